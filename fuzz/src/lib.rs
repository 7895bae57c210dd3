//! The bodies of the fuzz targets: one `fn(&[u8])` per decoder that reads outside input, in
//! [`TARGETS`]. A body panics only when a decoder breaks a promise (it panicked itself, an
//! error has no message or names the wrong frame, a round trip changed the value).
//!
//! The same table serves two runners. `fuzz/libfuzzer/` (a cargo-fuzz package outside this
//! workspace, so libFuzzer never enters the main lock file) wraps each body in a
//! `fuzz_target!`, run by `cargo xtask fuzz`. `tests/corpus.rs` replays the checked-in seed
//! corpus (`corpus/<target>/`) and every crash found so far (`regressions/<target>/`) on stable,
//! in the normal `cargo test`.
//!
//! ```
//! let (name, run) = imbridge_fuzz::TARGETS
//!     .iter()
//!     .find(|(name, _)| *name == "openim_envelope")
//!     .expect("target");
//! assert_eq!(*name, "openim_envelope");
//! // A decoder answers bad input with an error, so the body returns normally.
//! run(b"{\"reqIdentifier\": 1003, \"data\": \"not base64!\"}");
//! ```

mod media_targets;
mod openim_targets;

/// The body of one target: any bytes in, a panic only for a broken promise.
pub type Target = fn(&[u8]);

/// Every fuzz target, by the name of its `fuzz/libfuzzer/fuzz_targets/<name>.rs` and of its
/// corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("openim_envelope", openim_targets::envelope),
    ("openim_proto", openim_targets::proto),
    ("openim_content", openim_targets::content),
    ("openim_config", openim_targets::config),
    ("weixin_getupdates", weixin::fuzzing::getupdates),
    ("weixin_qr_status", weixin::fuzzing::qr_status),
    ("weixin_media_decrypt", weixin::fuzzing::media_decrypt),
    ("weixin_config", weixin::fuzzing::config),
    ("weixin_voice", weixin::fuzzing::voice),
    ("yunxin_webhook", yunxin::fuzzing::webhook),
    ("yunxin_nim_event", yunxin::fuzzing::nim_event),
    ("yunxin_config", yunxin::fuzzing::config),
    ("plugin_host_boundary", plugin_host::fuzzing::boundary),
    ("media_audio", media_targets::audio),
];

/// The body of target `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, run)| *run)
}
