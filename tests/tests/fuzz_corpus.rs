//! Replays every committed fuzz corpus and crash reproducer
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the
//! fuzz targets' own code on stable Rust, so that what the fuzzer once
//! found stays fixed (issue 21). `bench/fuzz.sh` runs the fuzzer itself.

#[allow(dead_code)]
mod targets {
    include!("../../fuzz/targets.rs");
}

use std::path::Path;

#[test]
fn every_corpus_input_is_handled_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, target) in targets::TARGETS {
        let mut replayed = 0usize;
        for kind in ["corpus", "regressions"] {
            let dir = root.join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("directory entry").path();
                let data = std::fs::read(&path).expect("corpus file");
                target(&data);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no corpus for fuzz target {name}");
    }
}
