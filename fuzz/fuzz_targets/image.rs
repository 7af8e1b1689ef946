#![no_main]
//! `cargo +nightly fuzz run image`: see webclip_fuzz::image.

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::image(data));
