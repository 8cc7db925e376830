//! Replaying saved fuzz inputs in ordinary tests.

use std::{
    panic::{catch_unwind, resume_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
};

use crate::Outcome;

/// The repository's `fuzz/` directory, from any workspace crate.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every input file directly under `dir`, sorted; `README.md` and other
/// `.md` files explain the directory and are not inputs.
pub fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    files.sort();
    files
}

/// Runs every input of `target` under `fuzz/seeds/` and `fuzz/regressions/`
/// through `check`, naming the file whose check fails. Returns how many
/// inputs were accepted, so a caller can tell the seeds still reach acceptance.
pub fn replay(target: &str, check: fn(&[u8]) -> Outcome) -> usize {
    let mut accepted = 0;
    for kind in ["seeds", "regressions"] {
        for file in inputs(&fuzz_dir().join(kind).join(target)) {
            let data = std::fs::read(&file).expect("input file reads");
            match catch_unwind(AssertUnwindSafe(|| check(&data))) {
                Ok(Outcome::Accepted) => accepted += 1,
                Ok(Outcome::Rejected) => {}
                Err(panic) => {
                    eprintln!("fuzz input {} breaks a property", file.display());
                    resume_unwind(panic);
                }
            }
        }
    }
    accepted
}
