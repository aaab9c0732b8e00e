//! The dependency direction of the workspace (docs/ARCHITECTURE.md), read
//! from `cargo metadata`, so that it fails the moment a manifest breaks it:
//!
//! - `walrus-codec` depends on no workspace crate;
//! - `walrus-contracts` on `walrus-codec` only;
//! - `walrus-types` on codec and contracts only, and never on server code
//!   (warp, rusqlite, prometheus) or tokio's server parts;
//! - `walrus-http` (how servers accept connections) on no workspace crate;
//! - `walrus-client` and `walrus-indexer` never on `walrus-runtime`;
//! - nothing on `walrus-node` (the binary).

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use serde_json::Value;

/// Normal (non-dev, non-build) dependencies of every workspace package,
/// by package name, with the features enabled on each dependency.
fn dependencies() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("name").to_owned();
            let deps = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| {
                    let features = d["features"]
                        .as_array()
                        .expect("features")
                        .iter()
                        .map(|f| f.as_str().expect("feature").to_owned())
                        .collect();
                    (d["name"].as_str().expect("name").to_owned(), features)
                })
                .collect();
            (name, deps)
        })
        .collect()
}

fn workspace_deps(deps: &BTreeMap<String, Vec<String>>) -> BTreeSet<&str> {
    deps.keys()
        .map(String::as_str)
        .filter(|name| name.starts_with("walrus-"))
        .collect()
}

#[test]
fn the_workspace_depends_in_one_direction() {
    let all = dependencies();
    let of = |name: &str| {
        all.get(name)
            .unwrap_or_else(|| panic!("{name} is a member"))
    };
    assert_eq!(workspace_deps(of("walrus-codec")), BTreeSet::new());
    assert_eq!(
        workspace_deps(of("walrus-contracts")),
        BTreeSet::from(["walrus-codec"])
    );
    assert_eq!(
        workspace_deps(of("walrus-types")),
        BTreeSet::from(["walrus-codec", "walrus-contracts"])
    );
    assert_eq!(workspace_deps(of("walrus-http")), BTreeSet::new());
    for server in ["warp", "rusqlite", "prometheus", "hyper", "walrus-http"] {
        assert!(
            !of("walrus-types").contains_key(server),
            "walrus-types must not depend on {server}"
        );
    }
    let tokio_features = of("walrus-types").get("tokio").cloned().unwrap_or_default();
    assert!(
        !tokio_features.iter().any(|f| f == "net"),
        "walrus-types must not enable tokio's net feature: {tokio_features:?}"
    );
    for client_side in ["walrus-client", "walrus-indexer"] {
        assert!(
            !workspace_deps(of(client_side)).contains("walrus-runtime"),
            "{client_side} must not depend on walrus-runtime"
        );
    }
    for (name, deps) in &all {
        assert!(
            !deps.contains_key("walrus-node"),
            "{name} depends on walrus-node, the binary"
        );
    }
}
