/// Receives the ranks the encoder produces, so that one encoding loop serves both encoding and counting.

protocol TokenSink {
    mutating func emit(_ rank: UInt32)
}

/// Collects token ids.

struct TokenIDSink: TokenSink {
    var ids: [Int]
    init(reservingFor byteCount: Int) {
        ids = []
        ids.reserveCapacity(byteCount / 4 + 16)
    }
    @inline(__always)
    mutating func emit(_ rank: UInt32) { ids.append(Int(rank)) }
}

/// Counts tokens without storing them.

struct TokenCountSink: TokenSink {
    var count = 0
    init() {}
    @inline(__always)
    mutating func emit(_ rank: UInt32) { count &+= 1 }
}
