//! Links the function binaries as position-dependent executables.
//!
//! A position-independent (PIE) binary has the loader patch every pointer
//! in its data at start: about 37,000 relocations and the pages they touch
//! for a function linking the AWS SDK, a third of its init. Linked without
//! PIE, the linker fixes those addresses once, at build time. The cost is
//! that the executable image itself is not randomised (ASLR still places
//! the stack, heap and shared libraries); Go builds its Lambda binaries the
//! same way by default. See docs/decisions.md, "Cold start".
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
