#![no_main]
//! `cargo +nightly fuzz run tokenizer`: see webclip_fuzz::tokenizer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::tokenizer(data));
