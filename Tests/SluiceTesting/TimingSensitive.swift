/// Tests whose figures depend on time — the share of a quota used against a sped-up simulator, the
/// 429s of its one-second windows — take turns. Side by side on a small machine they starve each
/// other's cores, and measure the machine instead of Sluice. (The other tests still run beside them.)
public actor TimingSensitive {
    private static let shared = TimingSensitive()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` when no other timing-sensitive test runs.
    public static func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await shared.acquire()
        do {
            let value = try await body()
            await shared.release()
            return value
        } catch {
            await shared.release()
            throw error
        }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
