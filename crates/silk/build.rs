//! Compiles Skype's fixed-point SILK SDK (sdk/src/*.c). Plain C: no bindgen, so no libclang;
//! the few declarations Rust needs are written out in src/ffi.rs.

use std::any::Any;
use std::process::Command;
use std::sync::Arc;

use cc::{BuildMessage, BuildMessageKind, BuildMessageLogger};

/// Passes on what the compiler says about the SDK's sources, and nothing of cc's probes of the
/// compiler. Under cargo-zigbuild the target carries a glibc version
/// (`x86_64-unknown-linux-gnu.2.17`) that zig's answer to the family probe calls an error; the
/// build is fine, but every packaged build would print that "error".
struct CompilerOnly;

impl BuildMessageLogger for CompilerOnly {
    fn log(&self, kind: BuildMessageKind, msg: BuildMessage<'_>, extra: &dyn Any) {
        // A failing command other than the compiler still fails the build, and cc's error
        // names it.
        let compiling = extra
            .downcast_ref::<Command>()
            .is_some_and(|cmd| cmd.get_args().any(|arg| arg == "-c"));
        match kind {
            BuildMessageKind::StderrForwarding | BuildMessageKind::CommandFailed { .. }
                if compiling =>
            {
                println!("cargo:warning={msg}");
            }
            _ => {}
        }
    }
}

fn main() {
    let sdk = std::path::Path::new("sdk");
    let mut files: Vec<_> = std::fs::read_dir(sdk.join("src"))
        .expect("sdk/src")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    files.sort();
    cc::Build::new()
        .files(&files)
        .include(sdk.join("src"))
        .include(sdk.join("interface"))
        // A codec at -O0 runs tens of times slower; the tests decode and encode seconds of audio.
        .opt_level(2)
        .warnings(false)
        .cargo_warnings(false)
        .message_logger(Some(Arc::new(CompilerOnly)))
        .compile("skp_silk");
    println!("cargo:rerun-if-changed=sdk");
}
