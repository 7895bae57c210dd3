//! Replays the seed corpus (`fuzz/corpus/<target>/`) and every crash the fuzzer found
//! (`fuzz/regressions/<target>/`) through its target on stable, so a decoder that panics again
//! fails the normal test suite. A target without a corpus, or a corpus without a target, fails
//! too: both mean the table and the directories drifted apart.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use imbridge_fuzz::TARGETS;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn subdirs(root: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(root) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_target_has_a_seed_corpus_and_every_corpus_a_target() {
    let targets: BTreeSet<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    let corpora = subdirs(&dir("corpus"));
    assert_eq!(
        corpora, targets,
        "fuzz/corpus/<target>/ and TARGETS disagree"
    );
    for name in &targets {
        assert!(
            !files(&dir("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name}/ is empty"
        );
    }
    let regressions = subdirs(&dir("regressions"));
    let strays: Vec<&String> = regressions.difference(&targets).collect();
    assert!(
        strays.is_empty(),
        "fuzz/regressions/ names no target: {strays:?}"
    );
}

#[test]
fn the_libfuzzer_package_has_one_binary_per_target() {
    let manifest = fs::read_to_string(dir("libfuzzer/Cargo.toml")).expect("libfuzzer/Cargo.toml");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/libfuzzer/Cargo.toml has no [[bin]] {name}"
        );
        let source = fs::read_to_string(dir("libfuzzer/fuzz_targets").join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{name}.rs: {e}"));
        assert!(
            source.contains(&format!("imbridge_fuzz::target(\"{name}\")")),
            "fuzz_targets/{name}.rs does not run its own target"
        );
    }
}

#[test]
fn corpus_and_regressions_replay_without_a_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, run) in TARGETS {
        for kind in ["corpus", "regressions"] {
            for file in files(&dir(kind).join(name)) {
                let data = fs::read(&file).expect("readable");
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                    failures.push(format!("{name}: {}", file.display()));
                }
            }
        }
    }
    assert!(replayed >= TARGETS.len(), "only {replayed} inputs");
    assert!(
        failures.is_empty(),
        "inputs that panic:\n{}",
        failures.join("\n")
    );
}
