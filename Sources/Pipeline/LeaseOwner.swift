import Foundation
import SluiceCore

/// This process's identity as a lease owner, and how to tell whether another owner is alive.
///
/// Each running process holds an exclusive `flock` on `<database>.owners/<owner>.lock` for its
/// whole life. An owner on this host whose lock can be taken is dead (killed, crashed), so its
/// leases are reclaimed at once; owners on other hosts are reclaimed when their heartbeat stops or
/// their leases expire. Without lock files (a database server), an owner of this host whose process
/// no longer exists is dead.
public final class LeaseOwner: Sendable {
    /// `host:pid:random`.
    public let id: String
    private let directory: String
    private let descriptor: Int32

    /// A new owner id for this process, with its lock held in the folder beside the database; nil (a
    /// database server): no lock, the owner is known alive by its heartbeat alone.
    public init(databasePath: String?) throws {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        id = "\(hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
        guard let databasePath else {
            directory = ""
            descriptor = -1
            return
        }
        directory = databasePath + ".owners"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        descriptor = open(directory + "/" + id + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw SluiceError(.io, "\(directory): cannot create the owner lock: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        guard descriptor >= 0 else { return }
        unlink(directory + "/" + id + ".lock")
        close(descriptor)
    }

    /// The owners among `owners` that are certainly dead: on this host, with a lock nobody holds.
    public func deadOwners(among owners: [String]) -> [String] {
        let hostPrefix = String(id.split(separator: ":").first ?? "") + ":"
        guard descriptor >= 0 else {
            // No lock files (a database server): an owner of this host whose process is gone is dead.
            // A reused pid looks alive, and waits for its heartbeat to go silent: the safe side.
            return owners.filter { owner in
                guard owner != id, owner.hasPrefix(hostPrefix) else { return false }
                let parts = owner.split(separator: ":")
                guard parts.count == 3, let pid = Int32(parts[1]), pid > 0 else { return false }
                return kill(pid, 0) == -1 && errno == ESRCH
            }
        }
        return owners.filter { owner in
            guard owner != id, owner.hasPrefix(hostPrefix) else { return false }
            let path = directory + "/" + owner + ".lock"
            let other = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard other >= 0 else { return false }
            defer { close(other) }
            if flock(other, LOCK_EX | LOCK_NB) == 0 {
                unlink(path)
                return true
            }
            return false
        }
    }
}
