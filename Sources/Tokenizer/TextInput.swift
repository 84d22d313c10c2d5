import Foundation

/// What to do with bytes that are not valid UTF-8.
public enum InvalidUTF8Policy: String, Sendable, CaseIterable {
    /// Fail with an error that names the file and the byte offset.
    case reject
    /// Replace each invalid sequence with U+FFFD (as a UTF-8 decoder with replacement would).
    case replace
}

/// Reads text for counting: files or standard input, decoded as UTF-8.
public enum TextInput {
    /// The display name of standard input.
    public static let standardInputName = "-"

    /// Reads a file (or standard input for ``standardInputName``) as UTF-8 text.
    ///
    /// - Throws: ``TokenizerError`` naming the file when it cannot be read, or with
    ///   ``TokenizerError/Code/invalidUTF8`` and the offset of the first bad byte under ``InvalidUTF8Policy/reject``.
    public static func read(_ path: String, invalidUTF8: InvalidUTF8Policy = .reject) throws(TokenizerError) -> String {
        let data: Data
        do {
            if path == standardInputName {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    throw TokenizerError(.unreadable, "\(path): is a directory")
                }
                data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            }
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError(.unreadable, "\(path): cannot read: \(Self.reason(error))")
        }
        return try decode(data, name: path, invalidUTF8: invalidUTF8)
    }

    /// Decodes bytes as UTF-8 text under a policy.
    public static func decode(
        _ bytes: some Collection<UInt8>, name: String, invalidUTF8: InvalidUTF8Policy
    ) throws(TokenizerError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        if invalidUTF8 == .replace { return String(decoding: bytes, as: UTF8.self) }
        let offset = firstInvalidOffset(bytes) ?? 0
        throw TokenizerError(
            .invalidUTF8,
            "\(name): not valid UTF-8 (first bad byte at offset \(offset)); "
                + "convert it to UTF-8 or let invalid bytes be replaced with U+FFFD"
        )
    }

    /// The byte offset of the first invalid UTF-8 sequence, or nil if all is valid.
    public static func firstInvalidOffset(_ bytes: some Collection<UInt8>) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error(let length): _ = length; return offset
            }
        }
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let code = POSIXErrorCode(rawValue: Int32(underlying.code))
        {
            return String(cString: strerror(code.rawValue))
        }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoSuchFileError {
            return "no such file"
        }
        return nsError.localizedDescription
    }
}
