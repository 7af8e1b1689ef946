#![no_main]
//! `cargo +nightly fuzz run bundle`: see webclip_fuzz::bundle.

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::bundle(data));
