// swift-tools-version:6.0
// LinkRing: a replicated key-value store behind a URL shortener, on libuv.
//
// Layers, from the bottom:
//   CUV            libuv as a system library (Debian libuv1-dev)
//   LinkRingUV     the ONLY module that imports CUV: loop, TCP, timers, signals, files
//   LinkRingCore   pure Swift, no I/O: HTTP parsing and pages, log records, versions, limits
//   LinkRingServer HTTP/1.1 connections on the loop, shared by the node and the proxy
//   Node, Proxy    the two executables
import PackageDescription

let testHooks: [SwiftSetting] = [.define("LINKRING_TEST_HOOKS", .when(configuration: .debug))]

let package = Package(
    name: "LinkRing",
    products: [
        .executable(name: "linkring-node", targets: ["Node"]),
        .executable(name: "linkring-proxy", targets: ["Proxy"]),
    ],
    targets: [
        .systemLibrary(name: "CUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .target(name: "LinkRingCore"),
        // LINKRING_TEST_HOOKS: the crash-point test hook (AppendOnlyFile.crashAtByte), in debug
        // builds only; release binaries, what operators run, cannot be told to kill themselves.
        .target(name: "LinkRingUV", dependencies: ["CUV"], swiftSettings: testHooks),
        .target(name: "LinkRingServer", dependencies: ["LinkRingUV", "LinkRingCore"]),
        .executableTarget(name: "Node", dependencies: ["LinkRingServer", "LinkRingUV", "LinkRingCore"], swiftSettings: testHooks),
        .executableTarget(name: "Proxy", dependencies: ["LinkRingServer", "LinkRingUV", "LinkRingCore"]),
        .testTarget(name: "LinkRingCoreTests", dependencies: ["LinkRingCore"]),
        .testTarget(name: "LinkRingUVTests", dependencies: ["LinkRingUV"]),
        .testTarget(name: "LinkRingServerTests", dependencies: ["LinkRingServer", "LinkRingUV", "LinkRingCore"]),
        // The node's Store rules on a log in memory (an executable target is testable).
        .testTarget(name: "NodeTests", dependencies: ["Node", "LinkRingCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["LinkRingCore"]),
    ]
)
