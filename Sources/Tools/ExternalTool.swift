import Subprocess
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// A program Sluice runs for one piece of work (`pdftotext` for a PDF, `az` for a token), found on
/// `PATH` like any tool and run so that it cannot stall or outlive the run:
///
/// - it runs on swift-subprocess's own I/O, not on a thread of the cooperative pool;
/// - it gets a deadline; at the deadline its process group is sent SIGTERM, then SIGKILL;
/// - its standard output is capped (the group is killed at the first byte over), its standard error
///   is always read (the first bytes kept for the message), so neither pipe can fill and block it;
/// - it starts with every signal at its default disposition (not the run's ignored SIGTERM), as the
///   leader of a process group of its own, which is killed when the run exits (and, on Linux, through
///   `setpriv --pdeathsig` when the run is killed outright).
package struct ExternalTool: Sendable {
    /// The program's name, looked up on `PATH`.
    package var name: String
    /// Its arguments.
    package var arguments: [String]
    /// How long the program may run.
    package var timeout: Duration
    /// The most bytes of standard output taken.
    package var outputLimit: Int
    /// How many bytes of standard error are kept for messages (the rest is read and dropped).
    package var errorLimit: Int = 16 << 10
    /// How long the group has between SIGTERM and SIGKILL.
    package var gracePeriod: Duration = .milliseconds(500)
    /// The `PATH` the program is looked up on and runs with (nil: this process's).
    package var searchPath: String?

    /// - Parameters:
    ///   - timeout: How long it may run before its process group is killed.
    ///   - outputLimit: Bytes of output kept at most.
    package init(_ name: String, arguments: [String], timeout: Duration, outputLimit: Int) {
        self.name = name
        self.arguments = arguments
        self.timeout = timeout
        self.outputLimit = outputLimit
    }

    /// How a run of the program ended.
    package struct Outcome: Sendable {
        /// The exit status, or nil when a signal ended it (`signal` says which).
        package var exitStatus: Int32?
        /// The signal that ended it, if one did.
        package var signal: Int32?
        /// Standard output, at most `outputLimit` bytes.
        package var output: [UInt8]
        /// The start of standard error, decoded leniently.
        package var errorText: String
        /// Whether it exited with status 0.
        package var succeeded: Bool { exitStatus == 0 }
    }

    /// Why the program gave no outcome.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// Why it failed.
        package enum Reason: Sendable, Equatable {
            case notFound, cannotStart, timedOut, outputTooLarge, cancelled
        }
        /// Why it failed.
        package var reason: Reason
        /// What went wrong, naming the program.
        package var message: String
        package var description: String { message }
    }

    /// Runs the program to its end, its deadline or its output cap.
    package func run() async throws(Failure) -> Outcome {
        Self.installExitHook
        let environment: Environment = searchPath.map { Environment.inherit.updating(["PATH": $0]) } ?? .inherit
        let path: FilePath
        do {
            path = try await Executable.name(name).resolveExecutablePath(in: environment)
        } catch {
            throw Failure(reason: .notFound, message: "\(name) was not found on PATH")
        }
        let (executable, fullArguments) = await Self.launcher(for: path, arguments: arguments, environment: environment)
        let options = {
            var options = PlatformOptions()
            options.processGroupID = 0
            options.teardownSequence = [
                .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: gracePeriod)
            ]
            return options
        }()
        let (name, timeout, outputLimit, errorLimit, grace) = (name, timeout, outputLimit, errorLimit, gracePeriod)
        let started = Started()
        do {
            return try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        executable, arguments: Arguments(fullArguments), environment: environment,
                        platformOptions: options, input: .none,
                        output: .sequence, error: .sequence
                    ) { execution in
                        let group = execution.processIdentifier.value
                        Self.live.withLock { _ = $0.insert(group) }
                        started.group.withLock { $0 = group }
                        defer { Self.live.withLock { _ = $0.remove(group) } }
                        async let errorBytes = Self.drain(execution.standardError, keeping: errorLimit)
                        var output: [UInt8] = []
                        for try await buffer in execution.standardOutput {
                            guard output.count + buffer.count <= outputLimit else {
                                // Killed before leaving, so that standard error ends and nothing waits on it.
                                killpg(group, SIGKILL)
                                _ = try? await errorBytes
                                throw Failure(
                                    reason: .outputTooLarge,
                                    message: "\(name) wrote more than \(outputLimit) bytes; stopped")
                            }
                            buffer.withUnsafeBytes { output.append(contentsOf: $0) }
                        }
                        return (output, try await errorBytes)
                    }
                    var outcome = Outcome(
                        exitStatus: nil, signal: nil, output: result.closureResult.0,
                        errorText: String(decoding: result.closureResult.1, as: UTF8.self))
                    switch result.terminationStatus {
                    case .exited(let code): outcome.exitStatus = code
                    case .signaled(let signal): outcome.signal = signal
                    }
                    // Ended by the deadline's signal: a timeout, not the program's own failure.
                    if started.expired.withLock({ $0 }) { throw Self.timedOut(name, timeout) }
                    return outcome
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    // The whole group, at the deadline: SIGTERM, then SIGKILL after the grace period, so
                    // that it has ended when the failure is reported.
                    started.expired.withLock { $0 = true }
                    if let group = started.group.withLock({ $0 }) {
                        Self.signal(group, SIGTERM)
                        try? await Task.sleep(for: grace)
                        Self.signal(group, SIGKILL)
                    }
                    throw Self.timedOut(name, timeout)
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else {
                    throw Failure(reason: .cannotStart, message: "\(name) did not run")
                }
                return first
            }
        } catch let failure as Failure {
            throw failure
        } catch is CancellationError {
            throw Failure(reason: .cancelled, message: "\(name) was stopped: the run is stopping")
        } catch {
            throw Failure(reason: .cannotStart, message: "cannot run \(name): \(error)")
        }
    }

    /// Reads a stream to its end, keeping the first `limit` bytes.
    private static func drain(_ stream: SubprocessOutputSequence, keeping limit: Int) async throws -> [UInt8] {
        var kept: [UInt8] = []
        for try await buffer in stream where kept.count < limit {
            buffer.withUnsafeBytes { kept.append(contentsOf: $0.prefix(limit - kept.count)) }
        }
        return kept
    }

    // MARK: Process groups

    /// The process groups of the programs running now.
    private static let live = Mutex<Set<pid_t>>([])

    /// The process group of one run of a program, once started.
    private final class Started: Sendable {
        let group = Mutex<pid_t?>(nil)
        /// The deadline has passed (what ends the program now is Sluice's signal).
        let expired = Mutex(false)
    }

    private static func timedOut(_ name: String, _ timeout: Duration) -> Failure {
        Failure(reason: .timedOut, message: "\(name) did not finish within \(timeout); stopped")
    }

    /// Signals a process group while its program is still running (never a group whose leader has been
    /// reaped, whose id may have been reused).
    private static func signal(_ group: pid_t, _ signal: Int32) {
        live.withLock { if $0.contains(group) { _ = killpg(group, signal) } }
    }

    /// Kills every running program's process group: the run is exiting.
    package static func terminateAll() {
        for group in live.withLock({ $0 }) { killpg(group, SIGKILL) }
    }

    private static let installExitHook: Void = { atexit { ExternalTool.terminateAll() } }()

    /// The program itself or, on Linux with util-linux's `setpriv`, the program under a parent-death
    /// signal: swift-subprocess spawns from one long-lived thread, so the signal comes only when the
    /// whole process ends, including by SIGKILL.
    private static func launcher(
        for path: FilePath, arguments: [String], environment: Environment
    ) async -> (Executable, [String]) {
        #if os(Linux)
            if let setpriv = try? await Executable.name("setpriv").resolveExecutablePath(in: environment) {
                return (.path(setpriv), ["--pdeathsig", "KILL", "--", path.string] + arguments)
            }
        #endif
        return (.path(path), arguments)
    }
}
