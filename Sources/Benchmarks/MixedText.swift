/// Documents in four kinds of text whose characters per token differ widely, so Azure's
/// character-based estimate (characters / 4) and the token count part ways: English and German
/// prose, source code and Chinese. Deterministic for a seed.
package enum MixedText {
    package enum Kind: String, Sendable, CaseIterable {
        case english, german, code, chinese
    }

    /// A document of about `bytes` UTF-8 bytes of one kind, with headings.
    package static func document(_ kind: Kind, seed: Int, bytes: Int = 16_000) -> String {
        let salt = UInt64(Kind.allCases.firstIndex(of: kind) ?? 0)
        var random = Generator(seed: UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9 &+ salt)
        var text = heading(kind, seed: seed)
        var section = 1
        while text.utf8.count < bytes {
            if text.utf8.count > section * 4_000 {
                section += 1
                text += "\n" + heading(kind, seed: seed * 10 + section)
            }
            text += paragraph(kind, random: &random) + "\n\n"
        }
        return text
    }

    private static func heading(_ kind: Kind, seed: Int) -> String {
        switch kind {
        case .english: "# Quarterly operations report \(seed)\n\n"
        case .german: "# Betriebsbericht für das Quartal \(seed)\n\n"
        case .code: "# Module \(seed)\n\n"
        case .chinese: "# 第\(seed)季度运营报告\n\n"
        }
    }

    private static func paragraph(_ kind: Kind, random: inout Generator) -> String {
        switch kind {
        case .english: prose(english, sentences: 6, random: &random, end: ".")
        case .german: prose(german, sentences: 5, random: &random, end: ".")
        case .code: code(random: &random)
        case .chinese: chinese(random: &random)
        }
    }

    private static func prose(_ words: [String], sentences: Int, random: inout Generator, end: String) -> String {
        (0..<sentences).map { _ in
            let count = 8 + random.next(12)
            var sentence = (0..<count).map { _ in words[random.next(words.count)] }.joined(separator: " ")
            sentence = sentence.prefix(1).uppercased() + sentence.dropFirst()
            if random.next(3) == 0 { sentence += ", " + String(1_000 + random.next(90_000)) }
            return sentence + end
        }.joined(separator: " ")
    }

    private static func code(random: inout Generator) -> String {
        let name = identifiers[random.next(identifiers.count)] + identifiers[random.next(identifiers.count)].capitalized
        var lines = ["func \(name)(_ items: [Record], limit: Int = \(random.next(500))) throws -> [String: Int] {"]
        lines.append("    var totals: [String: Int] = [:]")
        for _ in 0..<(3 + random.next(5)) {
            let field = identifiers[random.next(identifiers.count)]
            let other = identifiers[random.next(identifiers.count)]
            lines.append("    for item in items where item.\(field) > \(random.next(100)) {")
            lines.append("        totals[item.\(other), default: 0] += item.\(field) * \(1 + random.next(9))")
            lines.append("        guard totals.count < limit else { throw Failure.tooMany(\"\(field)\") }")
            lines.append("    }")
        }
        lines.append("    return totals")
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private static func chinese(random: inout Generator) -> String {
        let characters = Array(hanzi)
        var text = ""
        for sentence in 0..<(4 + random.next(4)) {
            for _ in 0..<(12 + random.next(20)) { text.append(characters[random.next(characters.count)]) }
            if sentence % 2 == 0 { text += String(10 + random.next(990)) }
            text += random.next(4) == 0 ? "；" : "。"
        }
        return text
    }

    static let english = """
        the of and to in a is that for it as was with be by on not he this are or his from at which but have an \
        they you were their one all we can her has there been if more when will would who so no shipment invoice \
        warehouse customer quarterly revenue delivery contract supplier schedule inventory freight account budget \
        forecast department approval region manager report process review standard increase decrease agreement
        """.split(separator: " ").map(String.init)
    static let german = """
        der die das und in zu den von mit sich des auf für ist im nicht ein eine als auch es an werden aus er hat \
        dass sie nach wird bei einer um am sind noch wie einem über einen so zum Lieferung Rechnung Lagerhaltung \
        Kundenzufriedenheit Vertragsbedingungen Geschäftsführung Umsatzsteuervoranmeldung Qualitätssicherung \
        Betriebsvereinbarung Zahlungsbedingungen Frachtkosten Abschlussprüfung Beschaffungsprozess Lieferantenbewertung \
        Arbeitszeiterfassung Datenschutzgrundverordnung Jahresabschluss Vertriebsgesellschaft Kostenstelle größer \
        übermäßig Prüfungsausschuss Fälligkeit
        """.split(separator: " ").map(String.init)
    static let identifiers = """
        count total index value record buffer offset length stream cursor batch window limit token price amount \
        vendor region ledger entry status
        """.split(separator: " ").map(String.init)
    static let hanzi =
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区"
}

/// SplitMix64, for deterministic text.
struct Generator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(max(1, bound)))
    }
}
