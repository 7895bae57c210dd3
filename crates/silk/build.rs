//! Compiles Skype's fixed-point SILK SDK (sdk/src/*.c). Plain C: no bindgen, so no libclang;
//! the few declarations Rust needs are written out in src/ffi.rs.

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
        .compile("skp_silk");
    println!("cargo:rerun-if-changed=sdk");
}
