#![no_main]

use std::sync::LazyLock;

static RUN: LazyLock<fn(&[u8])> = LazyLock::new(|| {
    imbridge_fuzz::target("weixin_voice")
        .expect("weixin_voice is in imbridge_fuzz::TARGETS")
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| RUN(data));
