import Foundation
import Testing
import Formats
@testable import Model
import TestSupport

let formatsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite struct SafetensorsTests {
    let weight: [Float] = [-1, -0.5, 0, 0.5, 1, 1.5]

    /// Files written by the Python safetensors package (0.x, numpy backend) read back exactly.
    @Test func readsTheReferenceWritersFiles() throws {
        let file = try SafetensorsFile(path: formatsFixtures.appendingPathComponent("reference-f32.safetensors").path)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.entries["layer.weight"]?.shape == [2, 3])
        #expect(try file.floats("layer.weight") == weight)
        #expect(try file.floats("bias") == [3.25, -0.125])
        let mixed = try SafetensorsFile(path: formatsFixtures.appendingPathComponent("reference-mixed.safetensors").path)
        #expect(mixed.entries["h"]?.dtype == .f16)
        #expect(try mixed.floats("h") == [1, -2, 0.5, 65504, 6.1035156e-05])
        #expect(try mixed.floats("w") == weight)
    }

    /// For F32 tensors our writer produces the reference writer's bytes exactly.
    @Test func writesTheReferenceWritersBytes() throws {
        let dir = TempDir()
        try writeSafetensors([NamedTensor(name: "layer.weight", shape: [2, 3], values: weight),
                              NamedTensor(name: "bias", shape: [1, 2], values: [3.25, -0.125])],
                             metadata: ["format": "pt"], to: dir.path("out.safetensors"))
        let ours = try Data(contentsOf: dir.url.appendingPathComponent("out.safetensors"))
        let reference = try Data(contentsOf: formatsFixtures.appendingPathComponent("reference-f32.safetensors"))
        #expect(ours == reference)
    }

    /// BF16 is the top half of an F32: 0x3F80 is 1, 0xC040 is -3, 0x3E20 is 0.15625.
    @Test func readsBF16() throws {
        let dir = TempDir()
        let header = #"{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}"#
        try makeFile(header: header, data: [0x80, 0x3F, 0x40, 0xC0, 0x20, 0x3E], at: dir.path("b.safetensors"))
        #expect(try SafetensorsFile(path: dir.path("b.safetensors")).floats("x") == [1, -3, 0.15625])
    }

    func makeFile(header: String, data: [UInt8], at path: String, declaredLength: UInt64? = nil) throws {
        var bytes: [UInt8] = []
        let length = declaredLength ?? UInt64(header.utf8.count)
        for i in 0..<8 { bytes.append(UInt8((length >> (8 * UInt64(i))) & 0xFF)) }
        bytes += Array(header.utf8) + data
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func rejectsLyingOrDamagedFiles() throws {
        let dir = TempDir()
        let cases: [(String, [UInt8], UInt64?, String)] = [
            (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0], nil, "truncated file"),
            (#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8), nil, "needs 12 bytes but data_offsets give 8"),
            (#"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8), nil, "unsupported dtype I64"),
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, Array(repeating: 0, count: 4), nil, "overlap or gap"),
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, Array(repeating: 0, count: 4), 1 << 40, "exceeds the file"),
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, Array(repeating: 0, count: 4), nil, "malformed header JSON"),
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, Array(repeating: 0, count: 12), nil, "tensors cover 4"),
        ]
        for (index, (header, data, length, message)) in cases.enumerated() {
            let path = dir.path("bad\(index).safetensors")
            try makeFile(header: header, data: data, at: path, declaredLength: length)
            let error = dataError { _ = try SafetensorsFile(path: path) }
            #expect(error?.location == path)
            #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        }
        try Data([1, 2, 3]).write(to: dir.url.appendingPathComponent("tiny.safetensors"))
        #expect(dataError { _ = try SafetensorsFile(path: dir.path("tiny.safetensors")) }?.message.contains("truncated") == true)
    }

    @Test func roundTripsLargeTensors() throws {
        let dir = TempDir()
        let values = (0..<100_000).map { Float($0) * 0.001 - 7 }
        try writeSafetensors([NamedTensor(name: "big", shape: [100, 1000], values: values)], to: dir.path("big.safetensors"))
        #expect(try SafetensorsFile(path: dir.path("big.safetensors")).floats("big") == values)
        #expect(dir.contents() == ["big.safetensors"])
    }
}

@Suite struct CheckpointTests {
    @Test func singleAndShardedDirectoriesReadTheSameTensors() throws {
        let single = TempDir(), sharded = TempDir()
        let a = NamedTensor(name: "a", shape: [2], values: [1, 2]), b = NamedTensor(name: "b", shape: [1, 3], values: [3, 4, 5])
        try writeSafetensors([a, b], to: single.path("model.safetensors"))
        try writeSafetensors([a], to: sharded.path("model-00001-of-00002.safetensors"))
        try writeSafetensors([b], to: sharded.path("model-00002-of-00002.safetensors"))
        try """
            {
              "metadata": {"total_size": 20},
              "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
            }
            """.write(toFile: sharded.path("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        for dir in [single, sharded] {
            let checkpoint = try SafetensorsCheckpoint(directory: dir.url.path)
            #expect(checkpoint.tensorNames == ["a", "b"])
            #expect(try checkpoint.floats("b") == [3, 4, 5])
            #expect(checkpoint.entry("b")?.shape == [1, 3])
        }
        try #"{"weight_map": {"a": "model-00002-of-00002.safetensors"}}"#
            .write(toFile: sharded.path("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        #expect(dataError { _ = try SafetensorsCheckpoint(directory: sharded.url.path) }?.message.contains("does not hold it") == true)
        #expect(dataError { _ = try SafetensorsCheckpoint(directory: TempDir().url.path) }?.message.contains("No such file") == true)
    }
}
