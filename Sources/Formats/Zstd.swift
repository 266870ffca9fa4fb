// The one file that talks to libzstd. Everything else sees ByteSource / ByteSink.
import CZstd

public enum Zstd {
    public static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    static func errorName(_ code: Int) -> String { String(cString: ZSTD_getErrorName(code)) }
}

/// Decompresses a stream of zstd frames. Concatenated frames read as one stream; a stream that
/// ends inside a frame is reported as truncated, and a checksum mismatch as corruption, both
/// with the byte offset in the compressed input.
final class ZstdDecoder: ByteSource {
    private let input: InputFile
    private let context: OpaquePointer
    private var compressed: UnsafeMutableRawBufferPointer
    private var inputBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var inputEnded = false
    /// True while a frame is open (started and not yet complete).
    private var insideFrame = false

    init(input: InputFile) {
        self.input = input
        context = ZSTD_createDCtx()
        compressed = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(context)
        compressed.deallocate()
    }

    /// Offset in the compressed file of the next byte zstd has not consumed.
    private var compressedOffset: Int { input.offset - (inputBuffer.size - inputBuffer.pos) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while output.pos == 0 {
            if inputBuffer.pos == inputBuffer.size && !inputEnded {
                let n = try input.read(into: compressed)
                if n == 0 {
                    inputEnded = true
                } else {
                    inputBuffer = ZSTD_inBuffer(src: compressed.baseAddress, size: n, pos: 0)
                }
            }
            let exhausted = inputEnded && inputBuffer.pos == inputBuffer.size
            if exhausted && !insideFrame { break }
            let before = compressedOffset
            let hint = ZSTD_decompressStream(context, &output, &inputBuffer)
            if ZSTD_isError(hint) != 0 {
                throw DataError("corrupt zstd data (\(Zstd.errorName(hint)))", at: "\(input.name): byte \(before)")
            }
            insideFrame = hint != 0
            // With no input left, a frame that is still open and yields nothing more is cut short.
            if exhausted && output.pos == 0 && insideFrame {
                throw DataError("truncated zstd stream (the last frame is incomplete)",
                                at: "\(input.name): byte \(input.offset)")
            }
        }
        return output.pos
    }
}

extension ZstdDecoder {
    /// zstd hands out a frame's data before the checksum at its end is checked, so a flipped
    /// byte can surface as a malformed line first. Decoding the rest of the frame (into a scratch
    /// buffer) reaches the checksum and turns that into the real diagnosis.
    func checkIntegrityAfterBadData() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
        defer { scratch.deallocate() }
        while insideFrame, try read(into: scratch) > 0 {}
    }
}

/// Compresses to zstd at a fixed level with content checksums, closing a frame every
/// `frameBytes` of input so a damaged file is readable up to its last complete frame.
final class ZstdEncoder: ByteSink {
    static let level: Int32 = 3
    static let frameBytes = 4 << 20

    private let output: ByteSink
    private let context: OpaquePointer
    private var compressed: UnsafeMutableRawBufferPointer
    private var bytesInFrame = 0

    init(output: ByteSink) {
        self.output = output
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Self.level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        compressed = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(context)
        compressed.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try compress(bytes, directive: ZSTD_e_continue)
        bytesInFrame += bytes.count
    }

    /// Called between records: closes the frame once it has grown past the frame size.
    func recordBoundary() throws {
        if bytesInFrame >= Self.frameBytes { try endFrame() }
    }

    func finish() throws {
        try endFrame()
        try output.finish()
    }

    private func endFrame() throws {
        try compress(UnsafeRawBufferPointer(start: nil, count: 0), directive: ZSTD_e_end)
        bytesInFrame = 0
    }

    private func compress(_ bytes: UnsafeRawBufferPointer, directive: ZSTD_EndDirective) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var out = ZSTD_outBuffer(dst: compressed.baseAddress, size: compressed.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &out, &input, directive)
            if ZSTD_isError(remaining) != 0 { throw DataError("zstd compression failed: \(Zstd.errorName(remaining))") }
            if out.pos > 0 { try output.write(UnsafeRawBufferPointer(start: compressed.baseAddress, count: out.pos)) }
            let finished = directive == ZSTD_e_continue ? input.pos == input.size : remaining == 0
            if finished { return }
        }
    }
}

extension Zstd {
    /// The compressed sizes of the complete frames at the start of `data`, stopping at the first
    /// incomplete or invalid one. This is where a damaged shard can be cut and still be read.
    public static func completeFrameSizes(_ data: [UInt8]) -> [Int] {
        var sizes: [Int] = []
        var offset = 0
        data.withUnsafeBytes { raw in
            while offset < raw.count {
                let size = ZSTD_findFrameCompressedSize(raw.baseAddress! + offset, raw.count - offset)
                if ZSTD_isError(size) != 0 { break }
                sizes.append(size)
                offset += size
            }
        }
        return sizes
    }
}
