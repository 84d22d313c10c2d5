import Foundation

/// Sizes in bytes as people write them: `1048576`, `500KB`, `64 MB`, `1.5GiB`.
public enum ByteSize {
    /// Parses a size; units are decimal (KB, MB, GB) or binary (KiB, MiB, GiB), case-insensitive.
    /// Returns nil for anything else, or for a negative size.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
        guard let value = Double(number), value >= 0 else { return nil }
        let multiplier: Double
        switch unit {
        case "", "b": multiplier = 1
        case "kb", "k": multiplier = 1e3
        case "mb", "m": multiplier = 1e6
        case "gb", "g": multiplier = 1e9
        case "kib": multiplier = 1024
        case "mib": multiplier = 1024 * 1024
        case "gib": multiplier = 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = value * multiplier
        guard bytes < 9e18 else { return nil }
        return Int64(bytes)
    }
}
