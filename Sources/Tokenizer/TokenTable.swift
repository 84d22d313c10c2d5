/// An open-addressing hash table from a token's bytes to its rank.
///
/// Each slot holds the first eight bytes of the key packed into an integer, its length and its rank,
/// so keys of up to eight bytes (most pieces of ordinary text) are found without touching the token
/// bytes; longer keys compare the rest with the vocabulary's bytes.

final class TokenTable: @unchecked Sendable {
    // Unchecked: filled once during the owning Vocabulary's init, read-only afterwards.

    struct Slot {
        var head: UInt64
        var rank: UInt32
        /// 0 marks an empty slot.
        var length: UInt32
    }

    let slots: UnsafeMutablePointer<Slot>
    let mask: Int
    let shift: UInt64

    init(capacity: Int) {
        var bits = 4
        while (1 << bits) < capacity * 5 / 2 { bits += 1 }
        let size = 1 << bits
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(head: 0, rank: 0, length: 0), count: size)
        mask = size - 1
        shift = UInt64(64 - bits)
    }

    deinit { slots.deallocate() }

    /// The first `min(length, 8)` bytes as a little-endian integer, zero-padded.
    @inline(__always)
    static func head(_ start: UnsafePointer<UInt8>, _ length: Int, readable: Int) -> UInt64 {
        if readable >= 8 {
            let word = UnsafeRawPointer(start).loadUnaligned(as: UInt64.self)
            return length >= 8 ? word : word & ((1 &<< UInt64(length &* 8)) &- 1)
        }
        var word: UInt64 = 0
        for index in 0..<min(length, 8) { word |= UInt64(start[index]) &<< UInt64(index &* 8) }
        return word
    }

    @inline(__always)
    func index(head: UInt64, _ start: UnsafePointer<UInt8>, _ length: Int) -> Int {
        var hash = head ^ (UInt64(truncatingIfNeeded: length) &<< 56)
        if length > 8 {
            var offset = 8
            while offset < length {
                let at = min(offset, length &- 8)
                hash = (hash ^ (hash &>> 29)) &* 0xBF58_476D_1CE4_E5B9
                hash ^= UnsafeRawPointer(start + at).loadUnaligned(as: UInt64.self)
                offset &+= 8
            }
        }
        hash = (hash ^ (hash &>> 32)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: hash &>> shift)
    }

    func insert(_ start: UnsafePointer<UInt8>, _ length: Int, rank: UInt32) {
        let head = Self.head(start, length, readable: 8)
        var slot = index(head: head, start, length)
        while slots[slot].length != 0 { slot = (slot &+ 1) & mask }
        slots[slot] = Slot(head: head, rank: rank, length: UInt32(length))
    }

    @inline(__always)
    func find(
        _ start: UnsafePointer<UInt8>, _ length: Int, readable: Int,
        tokens: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>
    ) -> UInt32 {
        let head = Self.head(start, length, readable: readable)
        var slot = index(head: head, start, length)
        while true {
            let candidate = slots[slot]
            if candidate.length == 0 { return UInt32.max }
            if candidate.head == head && Int(candidate.length) == length {
                if length <= 8 { return candidate.rank }
                let stored = tokens + Int(offsets[Int(candidate.rank)])
                if memoryEqual(stored + 8, start + 8, length &- 8) { return candidate.rank }
            }
            slot = (slot &+ 1) & mask
        }
    }

    @inline(__always)
    func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var index = 0
        while index < count {
            if a[index] != b[index] { return false }
            index &+= 1
        }
        return true
    }
}
