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
      dependencies: ["CYAML", "CCounters"],
      linkerSettings: [.linkedLibrary(":libyaml.a")]
    ),
    // Atomic increments on the metrics file every invocation of a replica maps (MAP_SHARED).
    .target(name: "CCounters"),
    // The one door to C: libcurl through dlopen (loaded only to send Events) and a detached spawn.
    .target(name: "CCurl"),
    .target(name: "KubeClient", dependencies: ["PodInject", "CCurl"]),
    .executableTarget(
      name: "podinject",
      dependencies: ["PodInject", "KubeClient"]
    ),
    .testTarget(name: "PodInjectTests", dependencies: ["PodInject"], exclude: ["Fixtures"]),
    .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "PodInject"]),
  ]
)
