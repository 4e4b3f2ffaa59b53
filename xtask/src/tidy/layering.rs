//! The crate layering: which workspace crate may depend on which, checked over `cargo metadata`.

use std::collections::BTreeSet;

use super::workspace_metadata;

/// A workspace crate and the workspace crates it may depend on.
#[derive(Debug)]
struct Layer {
    /// The crate's package name.
    name: &'static str,
    /// The workspace crates it may name as normal or build dependencies.
    may_use: &'static [&'static str],
    /// Further workspace crates its tests alone may use (dev-dependencies),
    /// where that creates no cycle: none of them may depend on this crate.
    may_test_with: &'static [&'static str],
}

/// The test kit: the shared conformance suite and reference model.
const TEST_KIT: &str = "oanix-conformance";

/// The benchmark harness: timing loops and tables for `harness = false` bench targets.
const BENCH_KIT: &str = "oanix-bench";

/// Dev-only crates: any other crate may name them as dev-dependencies, none as anything else.
///
/// They sit beside the layering rather than in it: tests and benchmarks of the lowest crate
/// need them, and they never reach a library's normal dependency graph, so they cannot create
/// a cycle in what users build.
const DEV_ONLY: &[&str] = &[TEST_KIT, BENCH_KIT];

/// The allowed edges between workspace crates — the one place the layering is written down.
///
/// From the bottom up:
///
/// - `oanix-vfs` is the core and depends on no workspace crate.
/// - `oanix-prims` (primitive file systems) builds on the core.
/// - `oanix-services` and `oanix-caps` (capability services) build on both, independently.
/// - `oanix-exec` (executors) drives capability services.
/// - `oanix-wasi` (the WASI host) needs only the core: a guest sees one namespace.
/// - `oanix-fuse` (a namespace served through the kernel) needs only the core, as `oanix-wasi`.
/// - `oanix-sandbox` (a confined Linux process tree) depends on no workspace crate.
/// - `oanix-store` (snapshots on disk) keeps frozen trees and the services' snapshots: the
///   core, the primitives and the services.
/// - `oanix-env` assembles environments from everything above but the FUSE and sandbox crates.
/// - `oanix-proxy` (the egress proxy for native programs) uses the capabilities and the
///   executors.
/// - `oanix-native` runs an environment's native agent: `oanix-env`, `oanix-fuse`,
///   `oanix-sandbox` and `oanix-proxy` together.
/// - `oanix-sched` schedules environments, and may use what `oanix-native` may (native jobs
///   behind its `native` feature).
/// - `oanix-mcp` (an environment served over MCP) may use what `oanix-native` may, and it
///   (the `run` tool's native commands behind its `native` feature).
/// - `oanix-nats` (jobs across machines on NATS JetStream) uses the environments and what
///   they are built from, as `oanix-env` does, and `oanix-env` itself.
/// - `oanix`, the facade, may use every library crate; so may `oanix-cli`, the command.
/// - `oanix-web` (the browser bindings and the Namespace Explorer) uses the in-memory crates;
///   nothing depends on it and the facade does not re-export it.
/// - `oanix-conformance`, the test kit, uses the core; `oanix-bench`, the benchmark harness,
///   uses nothing. Both are dev-only (see [`DEV_ONLY`]).
/// - `xtask` is tooling and uses no workspace crate.
///
/// Dev-dependencies follow the same table, plus the dev-only crates and a layer's own
/// `may_test_with` list. Each list already contains
/// everything reachable through it (a test checks this), so the table reads as a whole.
/// Crates listed here that do not exist yet are fine; a workspace crate missing from the table
/// fails the check until its place is decided here.
const LAYERS: &[Layer] = &[
    Layer {
        name: "oanix-vfs",
        may_use: &[],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-prims",
        may_use: &["oanix-vfs"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-services",
        may_use: &["oanix-vfs", "oanix-prims"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-caps",
        may_use: &["oanix-vfs", "oanix-prims"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-exec",
        may_use: &["oanix-vfs", "oanix-prims", "oanix-caps"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-wasi",
        may_use: &["oanix-vfs"],
        // Guests are tested against real services, which know nothing of WASI.
        may_test_with: &["oanix-prims", "oanix-services", "oanix-caps"],
    },
    Layer {
        name: "oanix-store",
        may_use: &["oanix-vfs", "oanix-prims", "oanix-services"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-env",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-store",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-sched",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
            "oanix-fuse",
            "oanix-sandbox",
            "oanix-proxy",
            "oanix-native",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
            "oanix-sched",
            "oanix-fuse",
            "oanix-sandbox",
            "oanix-proxy",
            "oanix-native",
            "oanix-mcp",
            "oanix-nats",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-sandbox",
        may_use: &[],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-fuse",
        may_use: &["oanix-vfs"],
        // Served through the kernel, real services show the file protocol works from a shell.
        may_test_with: &["oanix-prims", "oanix-services", "oanix-caps"],
    },
    Layer {
        name: "oanix-proxy",
        may_use: &["oanix-vfs", "oanix-prims", "oanix-caps", "oanix-exec"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-native",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
            "oanix-fuse",
            "oanix-sandbox",
            "oanix-proxy",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-nats",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-mcp",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
            "oanix-fuse",
            "oanix-sandbox",
            "oanix-proxy",
            "oanix-native",
        ],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-web",
        may_use: &["oanix-vfs", "oanix-prims", "oanix-services", "oanix-caps"],
        may_test_with: &[],
    },
    Layer {
        name: "oanix-cli",
        may_use: &[
            "oanix-vfs",
            "oanix-prims",
            "oanix-services",
            "oanix-caps",
            "oanix-exec",
            "oanix-wasi",
            "oanix-env",
            "oanix-store",
            "oanix-sched",
            "oanix-fuse",
            "oanix-sandbox",
            "oanix-proxy",
            "oanix-native",
            "oanix-mcp",
            "oanix-nats",
        ],
        may_test_with: &[],
    },
    Layer {
        name: TEST_KIT,
        may_use: &["oanix-vfs"],
        may_test_with: &[],
    },
    Layer {
        name: BENCH_KIT,
        may_use: &[],
        may_test_with: &[],
    },
    Layer {
        name: "xtask",
        may_use: &[],
        may_test_with: &[],
    },
];

/// How a crate depends on another, as `cargo metadata` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `[dependencies]`.
    Normal,
    /// `[build-dependencies]`.
    Build,
    /// `[dev-dependencies]`.
    Dev,
}

impl Kind {
    /// Parses `cargo metadata`'s `kind` field (`null`, `"build"` or `"dev"`).
    fn from_metadata(kind: Option<&str>) -> Self {
        match kind {
            Some("dev") => Self::Dev,
            Some("build") => Self::Build,
            _ => Self::Normal,
        }
    }

    /// The manifest table that declares a dependency of this kind.
    fn table(self) -> &'static str {
        match self {
            Self::Normal => "dependencies",
            Self::Build => "build-dependencies",
            Self::Dev => "dev-dependencies",
        }
    }
}

/// A dependency of one workspace crate on another.
#[derive(Debug)]
struct Edge {
    /// The depending crate.
    from: String,
    /// The crate depended on.
    to: String,
    /// Which table declares it.
    kind: Kind,
}

/// Whether `layers` lets `edge` exist.
fn allows(layers: &[Layer], edge: &Edge) -> bool {
    let Some(layer) = layers.iter().find(|layer| layer.name == edge.from) else {
        return false;
    };
    if layer.may_use.contains(&edge.to.as_str()) {
        return true;
    }
    if edge.kind == Kind::Dev && layer.may_test_with.contains(&edge.to.as_str()) {
        return true;
    }
    edge.kind == Kind::Dev && DEV_ONLY.contains(&edge.to.as_str()) && edge.from != edge.to
}

/// Every way `crates` and `edges` break `layers`, one message each, sorted.
///
/// `crates` are the workspace crates; `edges` are their dependencies on each other.
fn layering_violations(layers: &[Layer], crates: &[String], edges: &[Edge]) -> Vec<String> {
    let mut violations = BTreeSet::new();
    for name in crates {
        if !layers.iter().any(|layer| layer.name == name) {
            violations.insert(format!(
                "{name} is not in the layering table; add it to LAYERS in xtask/src/tidy/layering.rs"
            ));
        }
    }
    for edge in edges {
        let known = layers.iter().any(|layer| layer.name == edge.from);
        if known && !allows(layers, edge) {
            violations.insert(format!(
                "{} may not depend on {} (in [{}]); see LAYERS in xtask/src/tidy/layering.rs",
                edge.from,
                edge.to,
                edge.kind.table()
            ));
        }
    }
    violations.into_iter().collect()
}

#[test]
fn workspace_crates_respect_the_layering() {
    let metadata = workspace_metadata();
    let crates: Vec<String> = metadata.packages.iter().map(|p| p.name.clone()).collect();
    let edges: Vec<Edge> = metadata
        .packages
        .iter()
        .flat_map(|package| {
            let crates = &crates;
            package
                .dependencies
                .iter()
                .filter(move |dep| crates.contains(&dep.name))
                .map(|dep| Edge {
                    from: package.name.clone(),
                    to: dep.name.clone(),
                    kind: Kind::from_metadata(dep.kind.as_deref()),
                })
        })
        .collect();
    let violations = layering_violations(LAYERS, &crates, &edges);
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn layering_table_is_closed_and_acyclic() {
    for layer in LAYERS {
        assert!(
            !layer.may_use.contains(&layer.name),
            "{} may not use itself",
            layer.name
        );
        for dev_only in DEV_ONLY {
            assert!(
                !layer.may_use.contains(dev_only),
                "{} may use {dev_only} only as a dev-dependency",
                layer.name
            );
        }
        for used in layer.may_use {
            let Some(lower) = LAYERS.iter().find(|other| other.name == *used) else {
                panic!("{} may use {used}, which is not in the table", layer.name);
            };
            for below in lower.may_use {
                assert!(
                    layer.may_use.contains(below),
                    "{} may use {used}, which may use {below}, so {} should list {below} too",
                    layer.name,
                    layer.name
                );
            }
        }
    }
    let mut names: Vec<&str> = LAYERS.iter().map(|layer| layer.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), LAYERS.len(), "a crate is listed twice");
}

/// A small made-up table for the checker's own tests.
const TOY_LAYERS: &[Layer] = &[
    Layer {
        name: "low",
        may_use: &[],
        may_test_with: &[],
    },
    Layer {
        name: "high",
        may_use: &["low"],
        may_test_with: &["side"],
    },
    Layer {
        name: TEST_KIT,
        may_use: &["low"],
        may_test_with: &[],
    },
    Layer {
        name: "side",
        may_use: &["low"],
        may_test_with: &[],
    },
];

/// Builds the edge `from -> to` of the given kind.
fn edge(from: &str, to: &str, kind: Kind) -> Edge {
    Edge {
        from: from.to_owned(),
        to: to.to_owned(),
        kind,
    }
}

/// The toy workspace's crate names.
fn toy_crates() -> Vec<String> {
    ["low", "high", "side", TEST_KIT]
        .map(str::to_owned)
        .to_vec()
}

#[test]
fn downward_edges_and_test_kit_dev_edges_pass() {
    let edges = [
        edge("high", "low", Kind::Normal),
        edge("high", "low", Kind::Build),
        edge("high", "low", Kind::Dev),
        edge("low", TEST_KIT, Kind::Dev),
        edge(TEST_KIT, "low", Kind::Normal),
    ];
    assert_eq!(
        layering_violations(TOY_LAYERS, &toy_crates(), &edges),
        Vec::<String>::new()
    );
}

#[test]
fn upward_edges_are_rejected() {
    let edges = [
        edge("low", "high", Kind::Normal),
        edge("low", "high", Kind::Build),
        edge("low", "high", Kind::Dev),
        edge("high", TEST_KIT, Kind::Normal),
    ];
    let violations = layering_violations(TOY_LAYERS, &toy_crates(), &edges);
    assert_eq!(
        violations,
        [
            "high may not depend on oanix-conformance (in [dependencies]); see LAYERS in xtask/src/tidy/layering.rs",
            "low may not depend on high (in [build-dependencies]); see LAYERS in xtask/src/tidy/layering.rs",
            "low may not depend on high (in [dependencies]); see LAYERS in xtask/src/tidy/layering.rs",
            "low may not depend on high (in [dev-dependencies]); see LAYERS in xtask/src/tidy/layering.rs",
        ]
    );
}

#[test]
fn test_only_edges_are_allowed_for_tests_alone() {
    let ok = [edge("high", "side", Kind::Dev)];
    assert!(layering_violations(TOY_LAYERS, &toy_crates(), &ok).is_empty());
    let bad = [edge("high", "side", Kind::Normal)];
    assert_eq!(
        layering_violations(TOY_LAYERS, &toy_crates(), &bad),
        [
            "high may not depend on side (in [dependencies]); see LAYERS in xtask/src/tidy/layering.rs"
        ]
    );
}

#[test]
fn crates_missing_from_the_table_are_rejected() {
    let mut crates = toy_crates();
    crates.push("stray".to_owned());
    let edges = [edge("stray", "low", Kind::Normal)];
    assert_eq!(
        layering_violations(TOY_LAYERS, &crates, &edges),
        ["stray is not in the layering table; add it to LAYERS in xtask/src/tidy/layering.rs"]
    );
}
