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
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Data
        .target(name: "CTokenizerData", exclude: ["data"]),
        // Leaves
        .target(name: "Tokenizer", dependencies: ["CTokenizerData"], swiftSettings: swiftSettings),
        .target(name: "Benchmarks", dependencies: ["Tokenizer"], swiftSettings: swiftSettings),
        // The thin command-line layer
        .executableTarget(
            name: "sluice",
            dependencies: [
                "Tokenizer",
                "Benchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
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
            dependencies: ["sluice", "Tokenizer"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
