// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "podinject",
  products: [
    .executable(name: "podinject", targets: ["PodInjectCommand"]),
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
    // The one door to C: libcurl through dlopen (loaded only to send Events) and a detached spawn.
    .target(name: "CCurl"),
    .target(name: "KubeClient", dependencies: ["PodInject", "CCurl"]),
    // The executable `podinject`: its folder is named apart from `PodInject`, which differs only in case.
    .executableTarget(
      name: "PodInjectCommand",
      dependencies: ["PodInject", "KubeClient"]
    ),
    .testTarget(name: "PodInjectTests", dependencies: ["PodInject"], exclude: ["Fixtures"]),
    .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "PodInject"]),
  ]
)
