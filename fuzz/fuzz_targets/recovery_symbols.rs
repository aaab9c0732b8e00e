#![no_main]
//! Fuzz target `recovery_symbols`: see `fuzz/targets.rs`.

#[allow(dead_code)]
mod targets {
    include!("../targets.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::recovery_symbols(data));
