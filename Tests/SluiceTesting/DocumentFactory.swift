/// Deterministic documents of real-looking prose for tests and benchmarks.
public enum DocumentFactory {
    static let words = """
        the shipment arrived at the hub on monday and was checked against the delivery note before storage \
        customs require the invoice packing list and certificate of origin for every consignment from outside \
        the union our team reviewed the contract terms including liability payment and termination clauses \
        die lieferung wurde am montag geprüft und im lager eingestellt der vertrag regelt haftung zahlung und \
        kündigung quarterly volumes grew in warsaw while lyon recovered after the outage of the warehouse system
        """.split(separator: " ").map(String.init)

    /// A document of `paragraphs` paragraphs of about `wordsPerParagraph` words; `seed` varies it.
    public static func document(seed: Int, paragraphs: Int, wordsPerParagraph: Int = 60) -> String {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(words.count))
        }
        var text = "Document \(seed)\n\n"
        for paragraph in 0..<paragraphs {
            var sentence: [String] = []
            for index in 0..<wordsPerParagraph {
                var word = words[next()]
                if index % 12 == 0 { word = word.prefix(1).uppercased() + word.dropFirst() }
                sentence.append(word)
                if index % 12 == 11 { sentence[sentence.count - 1] += "." }
            }
            text += "Section \(paragraph + 1). " + sentence.joined(separator: " ") + ".\n\n"
        }
        return text
    }
}
