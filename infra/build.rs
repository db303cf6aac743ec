//! Builds the browser studio (`infra/studio/`) into `infra/studio/dist/`
//! for a release build of the local binary, which carries those files
//! (`gateway::studio`). A debug build reads the folder at run time
//! instead, so it leaves it to the studio's own scripts (`infra/studio/test.sh`).
//! Without Node the binary is built all the same, with no studio in it.

use std::path::Path;
use std::process::Command;

fn main() {
    let studio = Path::new("infra/studio");
    for input in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
    ] {
        println!("cargo::rerun-if-changed={}", studio.join(input).display());
    }
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let run = |args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(studio)
            .status()
            .is_ok_and(|status| status.success())
    };
    let installed = studio.join("node_modules").is_dir() || run(&["ci", "--no-audit", "--no-fund"]);
    if !(installed && run(&["run", "build"])) {
        println!(
            "cargo::warning=the studio was not built (is Node installed?): /studio/ will answer 404"
        );
    }
}
