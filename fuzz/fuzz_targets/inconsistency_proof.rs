#![no_main]
//! Fuzz target `inconsistency_proof`: see `fuzz/targets.rs`.

#[allow(dead_code)]
mod targets {
    include!("../targets.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::inconsistency_proof(data));
