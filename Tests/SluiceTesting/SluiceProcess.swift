import AsyncHTTPClient
import Foundation

/// Runs the built `sluice` executable as a separate process, as a user would.
public struct SluiceProcess {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The `sluice` binary in the build folder next to the test bundle.
    public static let executable: URL = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("sluice")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "/usr/bin/false")
    }()

    /// Runs `sluice` to completion; after `timeoutSeconds` it is killed (its status is then SIGKILL's).
    /// The waiting happens on a thread of its own, never on the cooperative pool the tests share.
    public static func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:], timeoutSeconds: Double = 600
    ) async throws -> Output {
        try await run(
            program: executable, arguments, stdin: stdin, environment: environment, timeoutSeconds: timeoutSeconds)
    }

    /// Runs another program the same way (a Python script of the SDK checks).
    public static func run(
        program: URL, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
        timeoutSeconds: Double = 600
    ) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        try runBlocking(
                            program, arguments, stdin: stdin, environment: environment, timeoutSeconds: timeoutSeconds)
                    })
            }
        }
    }

    private static func runBlocking(
        _ program: URL, _ arguments: [String], stdin: Data?, environment: [String: String], timeoutSeconds: Double
    ) throws -> Output {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: watchdog)
        defer { watchdog.cancel() }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let errorReader = PipeReader(err)
        let outData = out.fileHandleForReading.readAllRetryingInterrupts()
        let errData = errorReader.wait()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `sluice` without waiting; its output goes to /dev/null.
    public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Reads a pipe to its end on another thread.
final class PipeReader: @unchecked Sendable {
    // Unchecked: `data` is written once by the reading thread before `done` is signalled.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            data = pipe.fileHandleForReading.readAllRetryingInterrupts()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// A `sluice simulate` server in its own process, so it outlives the `sluice run` processes a test kills.
public final class SimulatorProcess: @unchecked Sendable {
    // Unchecked: immutable after init.
    public let process: Process
    public let endpoint: String

    public init(arguments: [String]) throws {
        process = Process()
        process.executableURL = SluiceProcess.executable
        process.arguments = ["simulate", "--port", "0"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line += byte
        }
        endpoint = String(decoding: line, as: UTF8.self)
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// The simulator's counters.
    public func statistics() async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: endpoint + "/sluice/stats"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
    }
}

extension Process {
    /// Waits for the process to end without holding a thread of the cooperative pool (short polls);
    /// after `timeoutSeconds` it is killed.
    public func exited(timeoutSeconds: Double = 600) async {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while isRunning {
            if ContinuousClock.now > deadline { kill(processIdentifier, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        waitUntilExit()
    }
}

extension FileHandle {
    /// Everything up to the end of the file or pipe. Unlike `readDataToEndOfFile()`, a read that a
    /// signal interrupts (a child's SIGCHLD while many tests start processes) is made again instead
    /// of trapping.
    public func readAllRetryingInterrupts() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }
}
