#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasi_detect_fuzz::decode_letterbox(data));
