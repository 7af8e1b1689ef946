#![no_main]
//! `cargo +nightly fuzz run checkpoint`: see webclip_fuzz::checkpoint. libFuzzer's edits go to one file at a time
//! (webclip_fuzz::mutate_part).

libfuzzer_sys::fuzz_target!(|data: &[u8]| webclip_fuzz::checkpoint(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, _max_size: usize, seed: u32| {
    webclip_fuzz::mutate_part(data, size, seed, |buf, len, cap| libfuzzer_sys::fuzzer_mutate(buf, len, cap))
});
