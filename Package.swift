// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
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
            dependencies: ["Tokenizer"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
