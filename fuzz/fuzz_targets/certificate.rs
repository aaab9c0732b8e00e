#![no_main]
//! Fuzz target `certificate`: see `fuzz/targets.rs`.

#[allow(dead_code)]
mod targets {
    include!("../targets.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::certificate(data));
