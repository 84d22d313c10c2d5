import CTokenizerData

/// The mergeable tokens of one BPE encoding: each rank's bytes, and a hash table from bytes to rank.
///
/// The tokens are read in place from the compact vocabulary embedded in the binary (see
/// `Scripts/generate-tokenizer-data.py`); only the offsets and the hash table are built at load.

final class Vocabulary: @unchecked Sendable {
    // Unchecked: every stored property is written once in `init` and only read afterwards; the
    // buffers it owns are freed in `deinit`, when no other reference exists.

    /// Number of mergeable tokens; ranks are `0 ..< count`.
    let count: Int
    /// Start of the concatenated token bytes (followed by 8 zero bytes of padding).
    let bytes: UnsafePointer<UInt8>
    /// `offsets[rank] ..< offsets[rank + 1]` are the bytes of `rank`.
    let offsets: UnsafeMutablePointer<UInt32>
    /// The rank of every single byte.
    let byteRanks: UnsafeMutablePointer<UInt32>
    /// The rank of every two-byte token by `first << 8 | second` (`UInt32.max`: none), so the first
    /// round of a merge needs no hashing.
    let pairRanks: UnsafeMutablePointer<UInt32>
    let table: TokenTable

    /// Reads a compact vocabulary.
    ///
    /// - Parameters:
    ///   - data: The embedded file, `"SLTK" | u32 version | u32 count | u32 total | u8 length[count] | bytes`.
    ///   - length: Its length in bytes.
    init(data: UnsafePointer<UInt8>, length: Int) {
        let raw = UnsafeRawPointer(data)
        let magic = raw.loadUnaligned(as: UInt32.self)
        let count = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let total = Int(raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        precondition(magic == 0x4B54_4C53 && length == 16 + count + total + 8, "embedded vocabulary is corrupt")
        self.count = count
        let lengths = data + 16
        bytes = data + 16 + count
        offsets = .allocate(capacity: count + 1)
        var offset: UInt32 = 0
        for rank in 0..<count {
            offsets[rank] = offset
            offset += UInt32(lengths[rank])
        }
        offsets[count] = offset
        byteRanks = .allocate(capacity: 256)
        byteRanks.initialize(repeating: UInt32.max, count: 256)
        pairRanks = .allocate(capacity: 1 << 16)
        pairRanks.initialize(repeating: UInt32.max, count: 1 << 16)
        table = TokenTable(capacity: count)
        for rank in 0..<count {
            let start = bytes + Int(offsets[rank])
            let length = Int(lengths[rank])
            if length == 1 { byteRanks[Int(start.pointee)] = UInt32(rank) }
            if length == 2 { pairRanks[Int(start[0]) << 8 | Int(start[1])] = UInt32(rank) }
            table.insert(start, length, rank: UInt32(rank))
        }
        precondition((0..<256).allSatisfy { byteRanks[$0] != UInt32.max }, "vocabulary lacks a single-byte token")
    }

    deinit {
        offsets.deallocate()
        byteRanks.deallocate()
        pairRanks.deallocate()
    }

    /// The bytes of a mergeable token.

    func tokenBytes(_ rank: Int) -> UnsafeBufferPointer<UInt8> {
        let start = Int(offsets[rank])
        return UnsafeBufferPointer(start: bytes + start, count: Int(offsets[rank + 1]) - start)
    }

    /// The rank of `bytes[0 ..< length]`, or `UInt32.max` if no token has exactly these bytes.
    ///
    /// - Parameter readable: How many bytes may be read from `start` (at least `length`); 8 or more
    ///   lets short keys load in one instruction.
    @inline(__always)
    func rank(_ start: UnsafePointer<UInt8>, _ length: Int, readable: Int) -> UInt32 {
        table.find(start, length, readable: readable, tokens: bytes, offsets: offsets)
    }
}
