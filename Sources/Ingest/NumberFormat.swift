import Foundation

/// A spreadsheet number format (Excel's format codes), to show cell values as the user sees them:
/// `0.951` with `0.0%` is `95.1%`, `45292` with a date format is `2024-01-01`, `41250.5` with
/// `#,##0.00 [$€-407]` is `41,250.50 €`.
///
/// Covers the built-in formats and the common custom ones (decimals, thousands separators,
/// percentages, scientific notation, currency and literal text, dates and times). Dates and times are
/// written in ISO 8601 order whatever the format's order, so models read them unambiguously.
struct NumberFormat: Sendable, Equatable {
    let code: String

    /// Excel's built-in format ids.
    static func builtIn(_ id: Int) -> NumberFormat? {
        let codes: [Int: String] = [
            0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
            12: "General", 13: "General", 14: "yyyy-mm-dd", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
            19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy-mm-dd h:mm", 37: "#,##0 ;(#,##0)",
            38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)", 45: "mm:ss",
            46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
        ]
        return codes[id].map(NumberFormat.init(code:))
    }

    /// The value as displayed; `value` is the cell's stored number. Falls back to the number itself.
    func display(_ value: String, date1904: Bool = false) -> String {
        guard let number = Double(value) else { return value }
        let sections = Self.sections(code)
        var section = sections.first ?? "General"
        var magnitude = number
        if number < 0, sections.count > 1 {
            section = sections[1]
            magnitude = -number
        } else if number == 0, sections.count > 2 {
            section = sections[2]
        }
        if section.trimmingCharacters(in: .whitespaces).lowercased() == "general" { return Self.general(number) }
        let cleaned = Self.clean(section)
        if cleaned.pattern.isEmpty && cleaned.literal.isEmpty { return Self.general(number) }
        if cleaned.pattern == "@" { return value }
        if Self.isDateTime(cleaned.pattern) {
            return Self.dateTime(number, pattern: cleaned.pattern, date1904: date1904)
        }
        let text = Self.numeric(magnitude, pattern: cleaned.pattern)
        let sign = number < 0 && sections.count == 1 ? "-" : ""
        return (cleaned.prefix + sign + text + cleaned.suffix).trimmingCharacters(in: .whitespaces)
    }

    /// Format sections split at `;` outside quotes.
    static func sections(_ code: String) -> [String] {
        var sections: [String] = []
        var current = ""
        var quoted = false
        for character in code {
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                sections.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        sections.append(current)
        return sections
    }

    /// Splits a section into the number pattern and literal text before and after it; drops colours,
    /// conditions, padding (`_x`) and fill (`*x`); turns `[$€-407]` into `€`.
    static func clean(_ section: String) -> (prefix: String, pattern: String, suffix: String, literal: String) {
        var prefix = ""
        var pattern = ""
        var suffix = ""
        var characters = Array(section)[...]
        func appendLiteral(_ text: String) {
            if pattern.isEmpty { prefix += text } else { suffix += text }
        }
        while let character = characters.popFirst() {
            switch character {
            case "\"":
                var text = ""
                while let next = characters.popFirst(), next != "\"" { text.append(next) }
                appendLiteral(text)
            case "\\":
                if let next = characters.popFirst() { appendLiteral(String(next)) }
            case "_", "*":
                _ = characters.popFirst()
            case "[":
                var inside = ""
                while let next = characters.popFirst(), next != "]" { inside.append(next) }
                if inside.hasPrefix("$") {
                    appendLiteral(String(inside.dropFirst().prefix { $0 != "-" }))
                } else if inside.lowercased().hasPrefix("h") || inside.lowercased().hasPrefix("m")
                    || inside.lowercased().hasPrefix("s")
                {
                    pattern += "[" + inside + "]"  // elapsed time, e.g. [h]
                }
            case "0", "#", "?", ".", ",", "%", "E", "e", "+", "-", "/", ":", "@", " ":
                if pattern.isEmpty && (character == " " || character == "-" || character == "+") {
                    prefix.append(character)
                } else if !suffix.isEmpty && character == " " {
                    suffix.append(character)
                } else {
                    pattern.append(character)
                }
            default:
                if "yYmMdDhHsSaApP".contains(character) {
                    pattern.append(character)
                } else {
                    appendLiteral(String(character))
                }
            }
        }
        let trimmed = pattern.trimmingCharacters(in: .whitespaces)
        if pattern.hasSuffix(" ") && !trimmed.isEmpty { suffix = " " + suffix }
        return (prefix, trimmed, suffix, prefix + suffix)
    }

    static func isDateTime(_ pattern: String) -> Bool {
        pattern.contains { "yYdDhHsS".contains($0) } || pattern.lowercased().contains("m") && !pattern.contains("0")
    }

    /// Excel's "General": integers without a decimal point, others with up to 15 significant digits.
    static func general(_ number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        var text = String(format: "%.15g", number)
        if text.contains("."), !text.contains("e") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static func numeric(_ number: Double, pattern: String) -> String {
        let percent = pattern.contains("%")
        let value = percent ? number * 100 : number
        if let exponent = pattern.firstIndex(where: { $0 == "E" || $0 == "e" }) {
            let mantissa = pattern[..<exponent]
            let decimals =
                mantissa.split(separator: ".").dropFirst().first.map { $0.filter { "0#?".contains($0) }.count } ?? 0
            return String(format: "%.\(decimals)E", value)
        }
        let integerPart = pattern.split(separator: ".", omittingEmptySubsequences: false).first ?? ""
        let decimals =
            pattern.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first.map {
                $0.filter { "0#?".contains($0) }.count
            } ?? 0
        // Half away from zero, as spreadsheets round (printf would round half to even).
        let scale = pow(10, Double(decimals))
        var text = String(format: "%.\(decimals)f", (value * scale).rounded(.toNearestOrAwayFromZero) / scale)
        if integerPart.contains(",") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            let digits = Array(parts[0])
            var grouped = ""
            for (index, digit) in digits.enumerated() {
                if index > 0 && (digits.count - index) % 3 == 0 && digit != "-" && digits[index - 1] != "-" {
                    grouped.append(",")
                }
                grouped.append(digit)
            }
            text = grouped + (parts.count > 1 ? "." + parts[1] : "")
        }
        return text + (percent ? "%" : "")
    }

    /// A serial date (days since 1899-12-30, or 1904-01-01) as ISO 8601 date, time or both.
    static func dateTime(_ serial: Double, pattern: String, date1904: Bool) -> String {
        let lower = pattern.lowercased()
        let hasDate =
            lower.contains("y") || lower.contains("d")
            || (lower.contains("m") && !lower.contains("h")
                && !lower.contains("s"))
        let hasTime = lower.contains("h") || lower.contains("s")
        let hasSeconds = lower.contains("s")
        var days = serial.rounded(.down)
        var seconds = Int(((serial - days) * 86_400).rounded())
        if seconds >= 86_400 {
            days += 1
            seconds -= 86_400
        }
        var parts: [String] = []
        if hasDate {
            // Excel's 1900 system counts a 29 February 1900 that never was: serials before it are one day off.
            let offset = date1904 ? 24_107.0 : (serial < 60 ? 25_568.0 : 25_569.0)
            let date = Date(timeIntervalSince1970: (days - offset) * 86_400)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
            let components = calendar.dateComponents([.year, .month, .day], from: date)
            parts.append(
                String(format: "%04d-%02d-%02d", components.year ?? 0, components.month ?? 0, components.day ?? 0))
        }
        if hasTime || !hasDate {
            let hours = lower.contains("[h]") ? Int(days) * 24 + seconds / 3600 : seconds / 3600
            var time = String(format: "%02d:%02d", hours, seconds / 60 % 60)
            if hasSeconds { time += String(format: ":%02d", seconds % 60) }
            parts.append(time)
        }
        return parts.joined(separator: " ")
    }
}
