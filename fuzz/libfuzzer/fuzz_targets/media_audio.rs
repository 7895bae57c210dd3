#![no_main]

use std::sync::LazyLock;

static RUN: LazyLock<fn(&[u8])> = LazyLock::new(|| {
    // `decode_mono` turns a panic inside the decoders into this file's error (its promise is
    // that none escapes). libFuzzer's hook aborts on any panic, caught or not, so the default
    // hook goes back in: a panic that escapes still aborts, at the `extern "C"` boundary.
    drop(std::panic::take_hook());
    imbridge_fuzz::target("media_audio").expect("media_audio is in imbridge_fuzz::TARGETS")
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| RUN(data));
