/// Byte-pair merging of one piece: repeatedly merge the adjacent pair whose bytes have the lowest
/// rank (the leftmost on a tie) until no adjacent pair is a token, exactly as tiktoken does.
extension Vocabulary {
    /// Pieces up to this many bytes merge with a flat array (quadratic, but fast when short);
    /// longer ones with a heap, in n·log n.
    static let flatMergeLimit = 192

    /// Encodes one piece of text into `sink`.
    ///
    /// - Parameter readable: Bytes readable from `start`, at least `length`.
    @inline(__always)
    func encodePiece<Sink: TokenSink>(
        _ start: UnsafePointer<UInt8>, _ length: Int, readable: Int, into sink: inout Sink
    ) {
        if length == 1 {
            sink.emit(byteRanks[Int(start.pointee)])
            return
        }
        if length == 2 {
            let pair = pairRanks[Int(start[0]) << 8 | Int(start[1])]
            if pair != UInt32.max {
                sink.emit(pair)
            } else {
                sink.emit(byteRanks[Int(start[0])])
                sink.emit(byteRanks[Int(start[1])])
            }
            return
        }
        let whole = rank(start, length, readable: readable)
        if whole != UInt32.max {
            sink.emit(whole)
            return
        }
        if length <= Self.flatMergeLimit {
            mergeFlat(start, length, readable: readable, into: &sink)
        } else {
            mergeWithHeap(start, length, into: &sink)
        }
    }

    struct Part {
        var start: Int32
        /// Rank of this part merged with the next one, or `UInt32.max`.
        var pairRank: UInt32
        /// Rank of this part's own bytes.
        var tokenRank: UInt32
        init(start: Int32, pairRank: UInt32, tokenRank: UInt32) {
            self.start = start
            self.pairRank = pairRank
            self.tokenRank = tokenRank
        }
    }

    func mergeFlat<Sink: TokenSink>(
        _ piece: UnsafePointer<UInt8>, _ length: Int, readable: Int, into sink: inout Sink
    ) {
        withUnsafeTemporaryAllocation(of: Part.self, capacity: length + 1) { buffer in
            guard let parts = buffer.baseAddress else { return }
            for index in 0..<length {
                let pair = index + 1 < length ? pairRanks[Int(piece[index]) << 8 | Int(piece[index + 1])] : UInt32.max
                parts[index] = Part(start: Int32(index), pairRank: pair, tokenRank: byteRanks[Int(piece[index])])
            }
            parts[length] = Part(start: Int32(length), pairRank: UInt32.max, tokenRank: UInt32.max)
            var count = length + 1  // parts including the end sentinel
            while true {
                var best = UInt32.max
                var at = 0
                for index in 0..<(count - 1) where parts[index].pairRank < best {
                    best = parts[index].pairRank
                    at = index
                }
                if best == UInt32.max { break }
                // Merge part `at` with `at + 1`.
                parts[at].tokenRank = best
                (parts + at + 1).update(from: parts + at + 2, count: count - at - 2)
                count -= 1
                parts[at].pairRank = pairRank(piece, parts, at, count, readable)
                if at > 0 { parts[at - 1].pairRank = pairRank(piece, parts, at - 1, count, readable) }
            }
            for index in 0..<(count - 1) { sink.emit(parts[index].tokenRank) }
        }
    }

    /// Rank of parts `index` and `index + 1` merged, in a list of `count` parts (with sentinel).
    @inline(__always)
    func pairRank(
        _ piece: UnsafePointer<UInt8>, _ parts: UnsafeMutablePointer<Part>, _ index: Int, _ count: Int,
        _ readable: Int
    ) -> UInt32 {
        guard index + 2 < count else { return UInt32.max }
        let from = Int(parts[index].start)
        return rank(piece + from, Int(parts[index + 2].start) - from, readable: readable - from)
    }

    /// The same merge for long pieces: parts form a linked list by byte offset, and candidate pairs
    /// sit in a min-heap ordered by (rank, offset); stale candidates are skipped when popped.

    func mergeWithHeap<Sink: TokenSink>(_ piece: UnsafePointer<UInt8>, _ length: Int, into sink: inout Sink) {
        // next[i] / previous[i]: neighbouring part starts of the part starting at byte i (-1: none);
        // pair[i]: current rank of part i merged with its successor.
        var next = [Int](unsafeUninitializedCapacity: length + 1) { buffer, initialized in
            for index in 0...length { buffer[index] = index + 1 }
            initialized = length + 1
        }
        var previous = [Int](unsafeUninitializedCapacity: length + 1) { buffer, initialized in
            for index in 0...length { buffer[index] = index - 1 }
            initialized = length + 1
        }
        var token = [UInt32](unsafeUninitializedCapacity: length) { buffer, initialized in
            for index in 0..<length { buffer[index] = byteRanks[Int(piece[index])] }
            initialized = length
        }
        var pair = [UInt32](repeating: UInt32.max, count: length)
        var heap = MergeHeap()
        for index in 0..<(length - 1) {
            let rank = pairRanks[Int(piece[index]) << 8 | Int(piece[index + 1])]
            pair[index] = rank
            if rank != UInt32.max { heap.push(rank: rank, start: index) }
        }
        func rankOfPair(_ start: Int) -> UInt32 {
            let second = next[start]
            guard second < length else { return UInt32.max }
            let third = next[second]
            return rank(piece + start, third - start, readable: length - start)
        }
        while let (rank, start) = heap.pop() {
            // Skip candidates whose part was absorbed or whose pair changed since they were pushed.
            guard pair[start] == rank, previous[start] != -2 else { continue }
            let absorbed = next[start]
            let after = next[absorbed]
            token[start] = rank
            next[start] = after
            if after <= length { previous[after] = start }
            previous[absorbed] = -2
            pair[absorbed] = UInt32.max
            let updated = rankOfPair(start)
            pair[start] = updated
            if updated != UInt32.max { heap.push(rank: updated, start: start) }
            let before = previous[start]
            if before >= 0 {
                let updatedBefore = rankOfPair(before)
                pair[before] = updatedBefore
                if updatedBefore != UInt32.max { heap.push(rank: updatedBefore, start: before) }
            }
        }
        var start = 0
        while start < length {
            sink.emit(token[start])
            start = next[start]
        }
    }
}

/// A binary min-heap of merge candidates keyed by (rank, start offset).

struct MergeHeap {
    private var keys: [UInt64] = []

    init() {}

    mutating func push(rank: UInt32, start: Int) {
        keys.append(UInt64(rank) << 32 | UInt64(UInt32(truncatingIfNeeded: start)))
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if keys[parent] <= keys[child] { break }
            keys.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> (rank: UInt32, start: Int)? {
        guard let top = keys.first else { return nil }
        let last = keys.removeLast()
        if !keys.isEmpty {
            keys[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                if left >= keys.count { break }
                let right = left + 1
                let child = right < keys.count && keys[right] < keys[left] ? right : left
                if keys[parent] <= keys[child] { break }
                keys.swapAt(parent, child)
                parent = child
            }
        }
        return (UInt32(truncatingIfNeeded: top >> 32), Int(truncatingIfNeeded: top & 0xFFFF_FFFF))
    }
}
