#![no_main]
//! `cargo +nightly fuzz run bundle`: see webclip_fuzz::bundle. Most of libFuzzer's edits go to the header JSON, its
//! length field kept right (webclip_fuzz::mutate_header); the target fixes the hashes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::bundle(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, _max_size: usize, seed: u32| {
    webclip_fuzz::mutate_header(data, size, seed, |buf, len, cap| libfuzzer_sys::fuzzer_mutate(buf, len, cap))
});
