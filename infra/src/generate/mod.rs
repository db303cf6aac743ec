//! `cargo run -- generate`: the files that follow from the route table.
//!
//! `template.yaml` and its nested stacks (`infra/stacks/`), the `functions/`
//! manifest and one binary per function are written from `shared::routes`
//! and `shared::resources`; nobody edits them by hand. `tests/template.rs`
//! fails when a committed file differs from what this module generates, so
//! adding a route is writing its handler and its table entry, then running
//! the command.

pub mod functions;
pub mod stacks;
pub mod yaml;

use std::path::Path;

use shared::routes::Module;

/// One generated file: its path from the repository root and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative to the repository root.
    pub path: String,
    /// The whole text.
    pub text: String,
}

/// Every generated file for these modules.
pub fn files(modules: &[Module]) -> Vec<File> {
    let mut files: Vec<File> = stacks::generate(modules)
        .into_iter()
        .map(|s| File {
            path: s.path,
            text: s.text,
        })
        .collect();
    files.push(File {
        path: "functions/Cargo.toml".into(),
        text: functions::manifest(modules),
    });
    for name in functions::names(modules) {
        files.push(File {
            path: format!("functions/src/bin/{name}.rs"),
            text: functions::binary(name),
        });
    }
    files
}

/// The folders whose every file is generated: a file there that is not
/// generated any more is stale.
pub const GENERATED_DIRS: &[&str] = &[stacks::STACKS_DIR, "functions/src/bin"];

/// What differs between the files under `root` and the generated ones:
/// missing or changed files, and stale files in the generated folders.
pub fn differences(root: &Path, modules: &[Module]) -> Vec<String> {
    let files = files(modules);
    let mut differences = Vec::new();
    for file in &files {
        match std::fs::read_to_string(root.join(&file.path)) {
            Ok(text) if text == file.text => {}
            Ok(_) => differences.push(format!("{} differs", file.path)),
            Err(_) => differences.push(format!("{} is missing", file.path)),
        }
    }
    for dir in GENERATED_DIRS {
        for path in listed(root, dir) {
            if !files.iter().any(|f| f.path == path) {
                differences.push(format!("{path} is not generated any more"));
            }
        }
    }
    differences
}

/// Writes every generated file under `root` and removes stale ones.
pub fn write(root: &Path, modules: &[Module]) -> std::io::Result<Vec<String>> {
    let files = files(modules);
    let mut written = Vec::new();
    for dir in GENERATED_DIRS {
        for path in listed(root, dir) {
            if !files.iter().any(|f| f.path == path) {
                std::fs::remove_file(root.join(&path))?;
                written.push(format!("removed {path}"));
            }
        }
    }
    for file in files {
        let path = root.join(&file.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.text.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.text)?;
        written.push(format!("wrote {}", file.path));
    }
    Ok(written)
}

fn listed(root: &Path, dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
        .collect();
    paths.sort();
    paths
}
