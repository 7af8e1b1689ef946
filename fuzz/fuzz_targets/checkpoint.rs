#![no_main]
//! `cargo +nightly fuzz run checkpoint`: see webclip_fuzz::checkpoint.

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::checkpoint(data));
