/// Lowercase hexadecimal text of bytes (digests, keys): a table lookup, not `String(format:)`, which
/// cost a tenth of the pipeline's CPU when every unit key was formatted byte by byte.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Bytes as lowercase hex, two digits each.
    public static func lowercase<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
