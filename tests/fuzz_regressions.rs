//! The saved fuzz inputs (`fuzz/regressions/<target>/`), replayed through the
//! same calls and checks as the fuzz targets (`fuzz/src/lib.rs`, included
//! here), without libFuzzer or a nightly toolchain.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
mod targets;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every saved input of `target`, naming each one that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no saved inputs for {target}");
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} fails on {failed:#?}");
}

#[test]
fn decode_letterbox() {
    replay("decode_letterbox", targets::decode_letterbox);
}

#[test]
fn postprocess() {
    replay("postprocess", targets::postprocess);
}

#[test]
fn query() {
    replay("query", targets::query);
}
