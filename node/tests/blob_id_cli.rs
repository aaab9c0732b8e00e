//! Runs the real `walrus` binary on real files.

use std::{path::PathBuf, process::Command};

fn walrus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_walrus"))
}

fn write_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).expect("below 251"))
        .collect()
}

#[test]
fn json_output_matches_the_known_answer() {
    // From ../shared/test-vectors/rs2-known-answers.txt: n=10 len=31415.
    let path = write_file("known-31415.bin", &pattern(31415));
    let output = walrus()
        .args(["blob-id", "--n-shards", "10", "--json"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        report["blobId"],
        "nn7R83K0Idghz27zc2bHhR0VVdngoqdNNYaQWeBm2Lg"
    );
    assert_eq!(report["unencodedSize"], 31415);
    assert_eq!(report["symbolSize"], 1122);
    // n * ((p + s) * S + 64n + 32) with p = 4, s = 7.
    assert_eq!(report["encodedSize"], 10 * (11 * 1122 + 672));
    assert_eq!(report["storageUnits"], 1);
}

#[test]
fn text_output_defaults_to_1000_shards() {
    let path = write_file("known-1.bin", &pattern(1));
    let output = walrus().arg("blob-id").arg(&path).output().expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    // From the known answers: n=1000 len=1.
    assert!(
        text.contains("Blob ID:        ikLkoKbOGH6P7kZyA78_GOJnoOjkbI1lOYH5I77Qi7Y"),
        "{text}"
    );
    assert!(text.contains("(1000 shards)"), "{text}");
}

#[test]
fn a_file_too_large_names_the_maximum() {
    let path = write_file("too-large.bin", &vec![0; 393_205]);
    let output = walrus()
        .args(["blob-id", "--n-shards", "4"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(stderr.contains("393204"), "{stderr}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let output = walrus()
        .args(["blob-id", "/nonexistent/file", "--json"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        report["error"]
            .as_str()
            .expect("message")
            .contains("cannot open /nonexistent/file")
    );
}
