// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "podinject",
  products: [
    .executable(name: "podinject", targets: ["podinject"]),
    .library(name: "PodInject", targets: ["PodInject"]),
  ],
  targets: [
    // libyaml (a plain C event parser, no regex), linked statically so that start-up loads nothing more.
    .systemLibrary(name: "CYAML", path: "Sources/CYAML"),
    .target(
      name: "PodInject",
      dependencies: ["CYAML"],
      linkerSettings: [.linkedLibrary(":libyaml.a")]
    ),
    .executableTarget(
      name: "podinject",
      dependencies: ["PodInject"]
    ),
    .testTarget(name: "PodInjectTests", dependencies: ["PodInject"]),
  ]
)
