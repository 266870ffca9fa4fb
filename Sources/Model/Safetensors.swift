import Formats
#if canImport(Glibc)
import Glibc
#endif

/// Element types a safetensors file may hold that the toolkit reads (compute is F32).
public enum TensorDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteSize: Int { self == .f32 ? 4 : 2 }
}

public struct TensorEntry: Sendable, Equatable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]
    /// Byte range in the data section (after the header).
    public let begin: Int
    public let end: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the data. Every claim of the header is checked
/// against the file before any tensor is read: sizes must match shapes, ranges must lie inside
/// the file and tile the data section without gaps or overlaps.
public final class SafetensorsFile {
    public let path: String
    public let entries: [String: TensorEntry]
    public let metadata: [String: String]
    private let fd: Int32
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw systemError("cannot open", path, errno: errno) }
        self.fd = fd
        var info = stat()
        fstat(fd, &info)
        let fileSize = Int(info.st_size)
        func fail(_ message: String) -> DataError {
            close(fd)
            return DataError(message, at: path)
        }
        guard fileSize >= 8 else { throw fail("truncated safetensors file (\(fileSize) bytes, no header)") }
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        _ = pread(fd, &lengthBytes, 8, 0)
        let headerLength = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(fileSize - 8), headerLength <= 100_000_000 else {
            throw fail("header length \(headerLength) exceeds the file (\(fileSize) bytes): truncated or not safetensors")
        }
        var header = [UInt8](repeating: 0, count: Int(headerLength))
        guard pread(fd, &header, Int(headerLength), 8) == Int(headerLength) else { throw fail("cannot read the header") }
        let parsed: JSON
        do {
            parsed = try header.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try JSON.parse(buffer) }
        } catch {
            throw fail("malformed header JSON: \(error)")
        }
        guard case .object(let object) = parsed else { throw fail("header is not a JSON object") }
        dataStart = 8 + Int(headerLength)
        let dataSize = fileSize - dataStart
        var entries: [String: TensorEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                for (key, item) in value.objectValue ?? JSONObject() { metadata[key] = item.stringValue }
                continue
            }
            guard let fields = value.objectValue, let dtypeName = fields["dtype"]?.stringValue,
                  let shape = fields["shape"]?.arrayValue?.map({ $0.intValue ?? -1 }),
                  let offsets = fields["data_offsets"]?.arrayValue?.map({ $0.intValue ?? -1 }), offsets.count == 2
            else { throw fail("tensor \"\(name)\": header entry needs dtype, shape and data_offsets") }
            guard let dtype = TensorDType(rawValue: dtypeName) else {
                throw fail("tensor \"\(name)\": unsupported dtype \(dtypeName) (F32, F16 and BF16 are read)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw fail("tensor \"\(name)\": invalid shape or offsets")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, elements * dtype.byteSize == offsets[1] - offsets[0] else {
                throw fail("tensor \"\(name)\": shape \(shape) of \(dtypeName) needs \(overflow ? -1 : elements * dtype.byteSize) bytes but data_offsets give \(offsets[1] - offsets[0])")
            }
            guard offsets[1] <= dataSize else {
                throw fail("tensor \"\(name)\": data ends at byte \(offsets[1]) but the data section has \(dataSize): truncated file")
            }
            entries[name] = TensorEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        // The ranges must tile the data section: no gaps, no overlaps (the format's rule).
        var cursor = 0
        for entry in entries.values.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard entry.begin == cursor else {
                throw fail("tensor \"\(entry.name)\": data starts at \(entry.begin), expected \(cursor) (overlap or gap)")
            }
            cursor = entry.end
        }
        guard cursor == dataSize else { throw fail("data section has \(dataSize) bytes but tensors cover \(cursor)") }
        self.entries = entries
        self.metadata = metadata
    }

    deinit { close(fd) }

    /// A tensor's values as F32, converted from F16 or BF16 where stored so.
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entries[name] else { throw DataError("no tensor \"\(name)\"", at: path) }
        let byteCount = entry.end - entry.begin
        var raw = [UInt8](repeating: 0, count: byteCount)
        var done = 0
        while done < byteCount {
            let n = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, byteCount - done, off_t(dataStart + entry.begin + done)) }
            if n <= 0 { throw DataError("cannot read tensor \"\(name)\"", at: path) }
            done += n
        }
        return raw.withUnsafeBytes { bytes -> [Float] in
            switch entry.dtype {
            case .f32:
                return (0..<entry.elementCount).map { Float(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            case .f16:
                return (0..<entry.elementCount).map { Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            case .bf16:
                return (0..<entry.elementCount).map { Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
            }
        }
    }
}

/// A tensor to write: F32 values in row-major order.
public struct NamedTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not match \(values.count) values")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Writes F32 tensors as a safetensors file, atomically. Tensors are stored in name order and
/// the header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
public func writeSafetensors(_ tensors: [NamedTensor], metadata: [String: String] = [:], to path: String) throws {
    let sorted = tensors.sorted { $0.name < $1.name }
    var header = JSONObject()
    if !metadata.isEmpty {
        header["__metadata__"] = .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
    }
    var offset = 0
    for tensor in sorted {
        let size = tensor.values.count * 4
        header[tensor.name] = .object(JSONObject([
            ("dtype", "F32"), ("shape", .array(tensor.shape.map { .number(JSONNumber($0)) })),
            ("data_offsets", .array([.number(JSONNumber(offset)), .number(JSONNumber(offset + size))])),
        ]))
        offset += size
    }
    var headerBytes: [UInt8] = []
    header.write(to: &headerBytes)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    let file = try AtomicFile(path: path)
    do {
        var length = UInt64(headerBytes.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try headerBytes.withUnsafeBytes { try file.write($0) }
        for tensor in sorted {
            try tensor.values.withUnsafeBytes { try file.write($0) }
        }
        try file.commit()
    } catch {
        file.abort()
        throw error
    }
}

/// The weights of a model directory: `model.safetensors`, or the shards that
/// `model.safetensors.index.json` maps tensor names to.
public final class SafetensorsCheckpoint {
    public let directory: String
    private var files: [String: SafetensorsFile] = [:]
    /// Tensor name -> file name within the directory.
    public let fileOfTensor: [String: String]

    public init(directory: String) throws {
        self.directory = directory
        let index = directory + "/model.safetensors.index.json"
        if access(index, F_OK) == 0 {
            // The index is one JSON object, usually pretty-printed over many lines.
            let text = try readTextFile(index)
            let parsed: JSON
            do { parsed = try JSON.parse(text) } catch { throw DataError("malformed JSON: \(error)", at: index) }
            guard let map = parsed.objectValue?["weight_map"]?.objectValue else {
                throw DataError("no \"weight_map\" object", at: index)
            }
            var fileOfTensor: [String: String] = [:]
            for (name, file) in map {
                guard let file = file.stringValue, !file.contains("/") else {
                    throw DataError("weight_map[\"\(name)\"] must be a file name in the directory", at: index)
                }
                fileOfTensor[name] = file
            }
            self.fileOfTensor = fileOfTensor
            for file in Set(fileOfTensor.values) {
                let opened = try SafetensorsFile(path: directory + "/" + file)
                for (name, mapped) in fileOfTensor where mapped == file && opened.entries[name] == nil {
                    throw DataError("index maps \"\(name)\" to \(file), which does not hold it", at: index)
                }
                files[file] = opened
            }
        } else {
            let single = try SafetensorsFile(path: directory + "/model.safetensors")
            files["model.safetensors"] = single
            fileOfTensor = Dictionary(uniqueKeysWithValues: single.entries.keys.map { ($0, "model.safetensors") })
        }
    }

    public var tensorNames: [String] { fileOfTensor.keys.sorted() }

    public func entry(_ name: String) -> TensorEntry? {
        fileOfTensor[name].flatMap { files[$0]?.entries[name] }
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let file = fileOfTensor[name], let opened = files[file] else {
            throw DataError("no tensor \"\(name)\" in the checkpoint", at: directory)
        }
        return try opened.floats(name)
    }
}
