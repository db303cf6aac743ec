//! The layering every module copies, checked on the `crate::` paths of
//! shared's code (tests excluded):
//!
//! - **ports** (the traits) depend on nothing but the declared resources;
//! - **adapters** implement ports and see only ports, settings and the
//!   declared resources, never a domain module or the spine above them;
//! - the **spine** (tenancy, http, routes, change, outbox …) serves every
//!   module and depends on none, nor on an adapter;
//! - a **module** (foundation, insights, the platform's health …) uses the
//!   spine and the ports, never an adapter and never another module.
//!
//! The composition roots are the exceptions, named below with their reason.

use std::path::{Path, PathBuf};

const PORTS: &[&str] = &["ports"];
const ADAPTERS: &[&str] = &["adapters"];
const SPINE: &[&str] = &[
    "change",
    "config",
    "http",
    "lambda",
    "openapi",
    "outbox",
    "random",
    "requests",
    "resources",
    "routes",
    "schedule",
    "services",
    "tenancy",
];
const MODULES: &[&str] = &[
    "automation",
    "foundation",
    "health",
    "insights",
    "runtime",
    "studio",
];

/// The edges between modules, and why: runtime serves the tables studio
/// defines, so it reads their schema; automation's steps read and write
/// records through the runtime, and read the project and its tables.
const MODULE_EDGES: &[(&str, &str)] = &[
    ("runtime", "studio"),
    ("automation", "runtime"),
    ("automation", "studio"),
];

/// Files allowed to reach further, and why.
const ROOTS: &[(&str, &[&str], &str)] = &[
    ("services.rs", ADAPTERS, "builds each port's adapter"),
    (
        "routes/mod.rs",
        MODULES,
        "gathers every module's route table",
    ),
    (
        "lambda.rs",
        &["insights"],
        "installs insights' request observers (EMF lines, rollups) on Lambda",
    ),
    ("lib.rs", &[], "declares the layers"),
];

fn shared_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read shared/src") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level names a file reaches through `crate::`, outside comments
/// and outside its `#[cfg(test)]` module (tests may wire adapters).
fn reached(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_tests = false;
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if line.trim_start().starts_with("#[cfg(") && line.contains("test") {
            in_tests = true;
        }
        if in_tests {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name.chars().next().is_some_and(|c| c.is_lowercase()) {
                found.push((number + 1, name));
            }
        }
    }
    found
}

/// What a file of `layer` may reach.
fn allowed(layer: &str) -> Vec<&'static str> {
    if PORTS.contains(&layer) {
        vec!["ports", "resources"]
    } else if ADAPTERS.contains(&layer) {
        vec!["adapters", "ports", "config", "resources", "random"]
    } else if SPINE.contains(&layer) {
        [PORTS, SPINE].concat()
    } else if MODULES.contains(&layer) {
        let mut own = [PORTS, SPINE].concat();
        own.push(MODULES.iter().find(|m| **m == layer).expect("a module"));
        own.extend(
            MODULE_EDGES
                .iter()
                .filter(|(from, _)| *from == layer)
                .map(|(_, to)| *to),
        );
        own
    } else if layer == "lib" {
        Vec::new()
    } else {
        panic!("shared/src/{layer} is in no layer: add it to tests/layering.rs")
    }
}

#[test]
fn no_module_reaches_an_adapter_or_another_module_and_no_adapter_a_domain() {
    let root = shared_src();
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut breaches = Vec::new();
    for path in all {
        let relative = path
            .strip_prefix(&root)
            .expect("under shared/src")
            .to_string_lossy()
            .replace('\\', "/");
        let layer = relative
            .split('/')
            .next()
            .expect("a first part")
            .trim_end_matches(".rs")
            .to_string();
        let mut may = allowed(&layer);
        for (file, extra, _why) in ROOTS {
            if *file == relative {
                may.extend(extra.iter());
            }
        }
        let text = std::fs::read_to_string(&path).expect("read a source file");
        for (line, name) in reached(&text) {
            if !may.contains(&name.as_str()) {
                breaches.push(format!(
                    "shared/src/{relative}:{line} reaches crate::{name}"
                ));
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "layering broken:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn the_check_sees_paths_in_code_and_skips_comments_and_tests() {
    let text = "use crate::ports::table;\n// crate::adapters in a comment\nlet x = crate::tenancy::Email::parse(y); // crate::foundation\n#[cfg(test)]\nmod tests { use crate::adapters::x; }\n";
    let names: Vec<String> = reached(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["ports", "tenancy"]);
}
