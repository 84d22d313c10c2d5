/// An error of Sluice's own: a code, and a message that says what went wrong and what to do.
public struct SluiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public static let database = Code("database")
        public static let corruptJob = Code("corruptJob")
        public static let invalidPipeline = Code("invalidPipeline")
        public static let invalidConfiguration = Code("invalidConfiguration")
        public static let io = Code("io")
        public static let notFound = Code("notFound")
        public static let invalidOutput = Code("invalidOutput")
        public static let budget = Code("budget")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
