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
      dependencies: ["CYAML", "CSpawn", "CCounters"],
      linkerSettings: [.linkedLibrary(":libyaml.a")]
    ),
    // Atomic increments on the metrics file every invocation of a replica maps (MAP_SHARED).
    .target(name: "CCounters"),
    // The door to libcurl, through dlopen (loaded only to send Events); only KubeClient uses it.
    .target(name: "CCurl"),
    // The door to posix_spawn: the detached Event deliverer; only SystemHost uses it.
    .target(name: "CSpawn"),
    // What runs before main: argv for the Swift runtime (no /proc/self/maps scan at every start) and,
    // in the static executable, no backtracer and no CPU detection in CGI processes (scripts/build).
    .target(name: "CStart"),
    .target(name: "KubeClient", dependencies: ["PodInject", "CCurl"]),
    // The executable `podinject`: its folder is named apart from `PodInject`, which differs only in case.
    .executableTarget(
      name: "PodInjectCommand",
      dependencies: ["PodInject", "KubeClient", "CStart"]
    ),
    // A Host for tests (clock, environment, files and spawns in memory), shared by both test targets.
    .target(name: "HostTesting", dependencies: ["PodInject"], path: "Tests/HostTesting"),
    .testTarget(name: "PodInjectTests", dependencies: ["PodInject", "HostTesting"], exclude: ["Fixtures"]),
    .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "PodInject", "HostTesting"]),
  ]
)
