// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "ReSTEM",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "shards", targets: ["Shards"]),
        .executable(name: "generate", targets: ["Generate"]),
        .executable(name: "verify", targets: ["Filter"]),
        .executable(name: "finetune", targets: ["Finetune"]),
        .executable(name: "score", targets: ["Score"]),
        .executable(name: "bench", targets: ["Bench"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Model", targets: ["Model"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
    ],
    targets: [
        // C libraries, each behind one Swift boundary file in the library that uses it.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // fork/exec with namespaces, rlimits and dropped privileges for untrusted programs.
        .target(name: "CSandbox"),
        // Async-signal-safe removal of temporary files on SIGINT/SIGTERM.
        .target(name: "CSignalCleanup"),
        // Our matrix kernels (AVX-512 / AVX2 / baseline bodies, the same bits on each): inference's
        // fixed-order products and training's GEMM (one fma chain per element).
        .target(name: "CKernels"),

        // Records and shards: JSON, zstd/gzip streams, atomic files, shard selection.
        .target(name: "Formats", dependencies: ["CZstd", "CArchive", "CSignalCleanup"]),
        // The engine: safetensors model directories, tokenizer, transformer, training, sampling.
        .target(name: "Model", dependencies: ["COpenBLAS", "CKernels", "Formats"]),
        // Math answers: extraction (boxes, markers) and equivalence (exact rationals on BigInt).
        .target(name: "MathVerify", dependencies: ["Formats", .product(name: "BigInt", package: "BigInt")]),
        // Public datasets into problem records (importers) and the prompt templates of the tools.
        .target(name: "Datasets", dependencies: ["Formats", "MathVerify"]),
        // The `verify` tool's library: scoring records, the per-problem cap, the summary.
        // Code answers: the sandbox and the test harnesses.
        .target(name: "CodeVerify", dependencies: ["Formats", "CSandbox"]),
        .target(name: "Verify", dependencies: ["Formats", "MathVerify", "CodeVerify"]),
        // The OpenAI-compatible completions client behind `generate --endpoint`.
        .target(name: "Endpoint", dependencies: ["Formats"]),
        // pass@k, maj@k and the report plot behind `score`.
        .target(name: "Scoring", dependencies: ["Formats"]),
        // The embedded demo task: arithmetic chains, human-style data, the base model's corpus.
        .target(name: "DemoTask", dependencies: ["Formats"]),
        // What every tool shares: error reporting, input resolution, progress display.
        .target(name: "ToolSupport", dependencies: [
            "Formats", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "Shards", dependencies: [
            "Formats", "Datasets", "DemoTask", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Filter", dependencies: [
            "Formats", "Verify", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Generate", dependencies: [
            "Formats", "Datasets", "Model", "Endpoint", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Finetune", dependencies: [
            "Formats", "Datasets", "Model", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Score", dependencies: [
            "Formats", "Scoring", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Bench", dependencies: ["Formats", "Datasets", "Model", "MathVerify", "CodeVerify", "Verify"]),

        // What the library tests share: temporary folders, the committed dataset slices.
        .target(name: "TestSupport", dependencies: ["Formats"], path: "Tests/TestSupport"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Formats", "MathVerify", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Formats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "MathVerifyTests", dependencies: ["MathVerify", "Datasets", "Formats", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "VerifyTests", dependencies: ["Verify", "Formats", "MathVerify", "CodeVerify"]),
        .testTarget(name: "DemoTaskTests", dependencies: ["DemoTask", "Formats", "Model"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "Formats"]),
        .testTarget(name: "CodeVerifyTests", dependencies: ["CodeVerify", "Datasets", "Formats", "TestSupport"]),
        .testTarget(name: "ShardsToolTests", dependencies: ["Formats", "Model"]),
    ],
    swiftLanguageModes: [.v6]
)
