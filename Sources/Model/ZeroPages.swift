import Foundation

/// Zero-filled memory from an anonymous mapping, for the KV caches: the kernel supplies each
/// page, zeroed, when it is first written, so room a sequence never reaches costs address space,
/// not memory. `generate` gives every sample room for `--max-tokens` new tokens and most answers
/// stop far sooner; zeroing that room up front wrote all of it, on one thread, before decoding.
enum ZeroPages {
    static func allocate(floats: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(floats, 1) * MemoryLayout<Float>.stride
        guard let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else {
            fatalError("cannot map \(bytes) bytes for a KV cache: \(String(cString: strerror(errno)))")
        }
        return memory.bindMemory(to: Float.self, capacity: max(floats, 1))
    }

    /// Unmaps memory from `allocate(floats:)`, given the same count.
    static func free(_ pointer: UnsafeMutablePointer<Float>, floats: Int) {
        munmap(pointer, max(floats, 1) * MemoryLayout<Float>.stride)
    }
}
