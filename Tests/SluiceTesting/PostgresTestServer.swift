import Foundation
import Queue
import SluiceCore
import Tools

/// A throwaway PostgreSQL server for the tests: `initdb` in a temporary folder (as the `postgres`
/// OS user when the tests run as root), `postgres` on a random loopback port with fsync off, one
/// fresh database per test. `SLUICE_TEST_POSTGRES_URL` names a server to use instead.
///
/// The server stops when the test process ends: a shell watching the test process's pid sends it
/// SIGINT (fast shutdown), so no server outlives the tests, even after a crash.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    private var starting: Task<(host: String, port: Int, user: String), any Error>?
    private var databases = 0

    /// The PostgreSQL binaries of this machine (Debian's layout), newest first.
    public static var binaries: String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted(by: >).map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    /// Whether the PostgreSQL tests run here: always in CI (`CI` set; a server that cannot start
    /// fails them), else when a server can be started or is named.
    public static var available: Bool {
        ProcessInfo.processInfo.environment["CI"] != nil
            || ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"] != nil || binaries != nil
    }

    /// A new, empty database on the server (started on first use).
    public func database() async throws -> PostgresLocation {
        databases += 1
        let name = "sluice_test_\(ProcessInfo.processInfo.processIdentifier)_\(databases)"
        if let url = ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"] {
            let server = try PostgresLocation(url: url)
            try await BlockingWork.run("creating a test database", timeout: .seconds(60)) {
                try Self.psql(
                    ["-h", server.host, "-p", String(server.port), "-U", server.user, "-d", server.database],
                    "CREATE DATABASE \(name)", password: server.password)
            }
            var components = URLComponents(string: url)
            components?.path = "/" + name
            return try PostgresLocation(url: components?.string ?? url)
        }
        let (host, port, user) = try await server()
        try await BlockingWork.run("creating a test database", timeout: .seconds(60)) {
            try Self.psql(["-h", host, "-p", String(port), "-U", user, "-d", "postgres"], "CREATE DATABASE \(name)")
        }
        return try PostgresLocation(url: "postgres://\(user)@\(host):\(port)/\(name)?sslmode=disable")
    }

    private func server() async throws -> (host: String, port: Int, user: String) {
        // One start for all the tests that ask at once (the actor is reentrant across the await).
        if let starting { return try await starting.value }
        let task = Task {
            try await BlockingWork.run("starting PostgreSQL", timeout: .seconds(120)) { try Self.start() }
        }
        starting = task
        return try await task.value
    }

    private static func start() throws -> (host: String, port: Int, user: String) {
        guard let binaries else {
            throw SluiceError(
                .notFound, "no PostgreSQL here (/usr/lib/postgresql/*/bin/initdb); set SLUICE_TEST_POSTGRES_URL")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pg-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let root = getuid() == 0
        // initdb refuses root: the cluster belongs to the postgres user.
        let prefix = root ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : []
        if root { try run(["chown", "postgres:postgres", folder]) }
        try run(prefix + ["\(binaries)/initdb", "-D", folder + "/data", "-U", "sluice", "-A", "trust", "--no-sync"])
        let port = Int.random(in: 20_000...60_000)
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: "/bin/sh")
        let command =
            (prefix + [
                "\(binaries)/postgres", "-D", folder + "/data", "-p", String(port), "-k", folder, "-c",
                "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                "full_page_writes=off", "-c", "max_connections=200",
            ]).map { "'\($0)'" }.joined(separator: " ")
        watcher.arguments = [
            "-c",
            "\(command) >'\(folder)/log' 2>&1 & server=$!; while kill -0 \(getpid()) 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; kill -INT $server 2>/dev/null; wait $server; rm -rf '\(folder)'",
        ]
        watcher.standardOutput = FileHandle.nullDevice
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
        // Ready when it accepts connections (a few seconds at most).
        for _ in 0..<100 {
            if (try? run(["\(binaries)/pg_isready", "-q", "-h", "127.0.0.1", "-p", String(port)])) != nil {
                return ("127.0.0.1", port, "sluice")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let log = (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""
        throw SluiceError(.database, "the test PostgreSQL did not start on port \(port): \(log.suffix(2_000))")
    }

    private static func psql(_ target: [String], _ sql: String, password: String? = nil) throws {
        guard let binaries else { throw SluiceError(.notFound, "no psql") }
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        try run(["\(binaries)/psql", "-q", "-v", "ON_ERROR_STOP=1"] + target + ["-c", sql], environment: environment)
    }

    @discardableResult
    private static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw SluiceError(
                .io, "\(arguments.first ?? "") failed (\(process.terminationStatus)): \(text.suffix(2_000))")
        }
        return text
    }
}
