// swift-tools-version:6.0
// libFuzzer targets for podinject's library (see README, "Fuzzing"). A package of its own, so that the
// sanitizer and coverage flags never reach the release build: scripts/fuzz builds it.
import PackageDescription

let podInject: Target.Dependency = .product(name: "PodInject", package: "podinject")

let package = Package(
  name: "podinject-fuzz",
  dependencies: [.package(name: "podinject", path: "..")],
  targets: [
    // libFuzzer's driver, declared; -sanitize=fuzzer links it.
    .systemLibrary(name: "CLibFuzzer"),
    // The driver hook, invariant checks and the fixed inputs the targets share.
    .target(name: "FuzzSupport", dependencies: ["CLibFuzzer", podInject]),
    .executableTarget(name: "FuzzReview", dependencies: ["FuzzSupport", podInject]),
    .executableTarget(name: "FuzzConfig", dependencies: ["FuzzSupport", podInject]),
    .executableTarget(name: "FuzzTemplate", dependencies: ["FuzzSupport", podInject]),
    .executableTarget(name: "FuzzCache", dependencies: ["FuzzSupport", podInject]),
    .executableTarget(name: "FuzzPatch", dependencies: ["FuzzSupport", podInject]),
  ]
)
