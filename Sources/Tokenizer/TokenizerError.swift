/// An error from the tokenizer.
public struct TokenizerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        /// A token id that is neither a mergeable nor a special token of the encoding.
        public static let unknownToken = Code(name: "unknownToken")
        /// An encoding name Sluice does not know.
        public static let unknownEncoding = Code(name: "unknownEncoding")
        /// A file that cannot be read.
        public static let unreadable = Code(name: "unreadable")
        /// Input that is not valid UTF-8.
        public static let invalidUTF8 = Code(name: "invalidUTF8")
        public var description: String { name }
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong and what to do about it.
    public let message: String

    /// An error of `code` with a message for the user.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
