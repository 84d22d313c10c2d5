import Testing

@testable import Tokenizer

/// The embedded class table (Unicode 16.0) agrees with the Swift standard library's Unicode
/// properties for every scalar Unicode 16 assigns.
@Suite struct ScalarClassTests {
    @Test func tableIsPinnedToUnicode16() {
        #expect(ScalarClassTable.shared.unicodeMajor == 16)
    }

    @Test func agreesWithStandardLibraryForUnicode16Scalars() {
        let table = ScalarClassTable.shared
        var mismatches: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let properties = scalar.properties
            let bits = table.classBits(value)
            guard let age = properties.age, age.major <= 16 else {
                // Unassigned in Unicode 16: not a letter, mark or number, whatever later versions say.
                if bits & Self.wordBits != 0 { mismatches.append(String(value, radix: 16)) }
                continue
            }
            if let changed = Self.changedAfterUnicode16[value] {
                #expect(bits == changed, "U+\(String(value, radix: 16))")
            } else if bits != Self.expectedBits(properties, value) {
                mismatches.append(String(value, radix: 16))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
    }

    static let wordBits = ScalarClass([.letter, .upperish, .lowerish, .number, .mark]).rawValue

    /// Scalars whose category the standard library's newer Unicode changed, with their Unicode 16 bits.
    static let changedAfterUnicode16: [UInt32: UInt8] = [
        // U+0295 LATIN LETTER PHARYNGEAL VOICED FRICATIVE: Ll in Unicode 16, Lo in Unicode 17.
        0x295: ScalarClass([.letter, .lowerish]).rawValue
    ]

    static func expectedBits(_ properties: Unicode.Scalar.Properties, _ value: UInt32) -> UInt8 {
        var bits: ScalarClass = []
        switch properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: bits = [.letter, .upperish]
        case .lowercaseLetter: bits = [.letter, .lowerish]
        case .modifierLetter, .otherLetter: bits = [.letter, .upperish, .lowerish]
        case .nonspacingMark, .spacingMark, .enclosingMark: bits = [.mark, .upperish, .lowerish]
        case .decimalNumber, .letterNumber, .otherNumber: bits = [.number]
        default: break
        }
        if properties.isWhitespace { bits.insert(.space) }
        if value == 0x0A || value == 0x0D { bits.insert(.newline) }
        return bits.rawValue
    }
}
