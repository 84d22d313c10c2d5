// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .executable(name: "sluice-bench", targets: ["sluice-bench"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Simulator", targets: ["Simulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries and data
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .target(name: "CTokenizerData", exclude: ["data"]),
        .target(name: "CCatalogData", exclude: ["data"]),

        // Leaves
        .target(name: "Tokenizer", dependencies: ["CTokenizerData"], swiftSettings: swiftSettings),
        .target(name: "SluiceCore", swiftSettings: swiftSettings),
        // Programs run for one piece of work (pdftotext, az): deadline, output cap, process group.
        .target(
            name: "Tools",
            dependencies: [
                "SluiceCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),

        // The durable job queue, and the service that works one stage's jobs from it
        .target(
            name: "Queue",
            dependencies: [
                "SluiceCore", "CSQLite", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // Rendering a pipeline's prompts: shared by the prompt and reduce stages
        .target(
            name: "PromptRendering",
            dependencies: [
                "SluiceCore", "Tokenizer", "Catalog", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // The stages: ingest → chunk → prompt → call → (reduce) → collect; each owns its worker and
        // knows the queue, never another stage
        .target(
            name: "Ingest",
            dependencies: [
                "SluiceCore", "Queue", "Tools", "CLibXML2", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "Chunk", dependencies: ["SluiceCore", "Queue", "Tokenizer"], swiftSettings: swiftSettings),
        .target(
            name: "Prompt", dependencies: ["SluiceCore", "Queue", "PromptRendering", "Catalog"],
            swiftSettings: swiftSettings),
        .target(
            name: "Call",
            dependencies: [
                "SluiceCore", "Queue", "Scheduler", "Catalog", "Tools",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reduce", dependencies: ["SluiceCore", "Queue", "PromptRendering", "Catalog"],
            swiftSettings: swiftSettings),
        .target(
            name: "Collect",
            dependencies: [
                "SluiceCore", "Queue", "Tools", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], swiftSettings: swiftSettings),

        // Admission for the call stage: knows deployments, quota and time; not documents.
        .target(name: "Scheduler", swiftSettings: swiftSettings),

        // What models are and cost: the dated catalog (data/models.yaml in CCatalogData).
        .target(
            name: "Catalog",
            dependencies: ["CCatalogData", "SluiceCore", "Scheduler", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),

        // Orchestration
        .target(
            name: "Pipeline",
            dependencies: [
                "SluiceCore", "Queue", "Ingest", "Chunk", "Prompt", "PromptRendering", "Call", "Reduce", "Collect",
                "Scheduler", "Tools", "Tokenizer", "Catalog", .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The built-in Azure OpenAI simulator: shares only the wire format with the client side.
        .target(
            name: "Simulator",
            dependencies: [
                "Tokenizer", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Benchmarks",
            dependencies: [
                "Tokenizer", "Queue", "Pipeline", "Simulator", "SluiceCore", "Call", "Ingest", "Chunk", "Scheduler",
                "Catalog", "PromptRendering",
            ],
            swiftSettings: swiftSettings
        ),

        // The thin command-line layer
        .executableTarget(
            name: "sluice",
            dependencies: [
                "Tokenizer", "Tools", "Pipeline", "Simulator", "SluiceCore", "Queue", "Ingest", "Chunk", "Collect",
                "Scheduler", "Catalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The benchmarks: a binary of their own, beside the user's `sluice` (which `bench pipeline` runs)
        .executableTarget(
            name: "sluice-bench",
            dependencies: [
                "Benchmarks", "Tokenizer", "SluiceCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Tests
        .target(
            name: "SluiceTesting",
            dependencies: [
                "Simulator", "Pipeline", "Queue", "SluiceCore", "Scheduler", "Tools",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/SluiceTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TokenizerTests",
            dependencies: ["Tokenizer", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceCommandTests",
            dependencies: ["sluice", "Tokenizer", "SluiceTesting", "Queue", "Benchmarks"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: [
                "SluiceTesting", "Queue", "Ingest", "Chunk", "PromptRendering", "Call", "Collect", "Pipeline",
                "Simulator",
                "SluiceCore", "Tokenizer", "Scheduler", "Benchmarks", "Catalog", "Tools",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
