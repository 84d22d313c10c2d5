/// An error of Sluice's own: a code, a message that says what went wrong and what to do, and the
/// error that caused it, if another did (a SQLite error with its result code, SQL and arguments; a
/// decoding error; a system call's).
public struct SluiceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The queue's database.
        public static let database = Code("database")
        /// A job whose payload cannot be read.
        public static let corruptJob = Code("corruptJob")
        /// A pipeline definition.
        public static let invalidPipeline = Code("invalidPipeline")
        /// The configuration (flags, deployments file).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// Reading or writing files.
        public static let io = Code("io")
        /// Something asked for does not exist.
        public static let notFound = Code("notFound")
        /// A reply that is not what the pipeline asked for.
        public static let invalidOutput = Code("invalidOutput")
        /// The budget (`--max-cost`).
        public static let budget = Code("budget")
        public var description: String { name }
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong, and what to do.
    public let message: String
    /// The underlying error, when there is one.
    public let cause: (any Error)?

    /// An error with its cause, if another error caused it.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    /// Equal when code and message are (the cause is not compared).
    public static func == (lhs: SluiceError, rhs: SluiceError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
