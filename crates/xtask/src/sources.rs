//! Which files belong to which crate, and what role they play.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// `src/`: what the crate ships (its `#[cfg(test)]` parts are set apart
    /// by the parsers, not here).
    Source,
    /// `tests/`, `benches/`, `examples/`.
    Test,
}

pub struct File {
    /// Relative to the workspace root, as printed.
    pub path: String,
    /// Relative to the crate's `src/` (for module paths).
    pub in_src: Option<PathBuf>,
    pub role: Role,
    pub text: String,
}

pub struct Crate {
    pub name: String,
    pub files: Vec<File>,
}

impl Crate {
    pub fn lines(&self, role: Role) -> usize {
        self.files
            .iter()
            .filter(|f| f.role == role)
            .map(|f| f.text.lines().count())
            .sum()
    }
}

/// Every crate under `crates/`, plus `loadtests/`, sorted by name.
pub fn crates(root: &Path) -> io::Result<Vec<Crate>> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.push(root.join("loadtests"));
    dirs.sort();
    let mut crates = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = Vec::new();
        for (sub, role) in [
            ("src", Role::Source),
            ("tests", Role::Test),
            ("benches", Role::Test),
            ("examples", Role::Test),
        ] {
            for path in rust_files(&dir.join(sub))? {
                let text = fs::read_to_string(&path)?;
                let in_src = (role == Role::Source)
                    .then(|| {
                        path.strip_prefix(dir.join("src"))
                            .ok()
                            .map(Path::to_path_buf)
                    })
                    .flatten();
                files.push(File {
                    path: display(root, &path),
                    in_src,
                    role,
                    text,
                });
            }
        }
        crates.push(Crate { name, files });
    }
    Ok(crates)
}

/// `(path, lines)` of every `.rs` file under `folder`.
pub fn files_under(root: &Path, folder: &Path) -> io::Result<Vec<(String, usize)>> {
    rust_files(&root.join(folder))?
        .into_iter()
        .map(|p| Ok((display(root, &p), fs::read_to_string(&p)?.lines().count())))
        .collect()
}

fn rust_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
