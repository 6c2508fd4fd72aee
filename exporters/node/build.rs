//! Lays out the functions a default scrape runs next to each other in the `node-exporter` binary
//! (`hot-functions.txt`, written by `scripts/hot_functions.py`), so that the code pages the
//! kernel maps around them (whole page-cache folios, 64 KB and more) hold little code that never
//! runs. Without it the ~1 MB that runs is spread over the whole 5 MB of text and ~3.3 MB of it
//! is resident; with it ~1.5 MB (docs/benchmarks.md, node section).
//!
//! Symbols the file names that the binary no longer has are skipped: the layout then degrades
//! towards the linker's own order (about 1 MB more resident), it does not fail. Their hashes move
//! with rustc, the dependencies, the release profile and this crate's own code, so the file is
//! regenerated after any of those change (CONTRIBUTING.md).
//! Only where the linker is rustc's default LLD (x86_64 Linux GNU, Rust 1.90 and later, no linker
//! of one's own), which takes `--symbol-ordering-file`; GNU ld does not.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=hot-functions.txt");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    println!("cargo:rerun-if-env-changed=NODE_EXPORTER_NO_HOT_ORDER");
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("TARGET") != "x86_64-unknown-linux-gnu"
        || !env("NODE_EXPORTER_NO_HOT_ORDER").is_empty()
        || !env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_empty()
        || ["linker", "link-self-contained", "fuse-ld"]
            .iter()
            .any(|flag| env("CARGO_ENCODED_RUSTFLAGS").contains(flag))
    {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    if minor.is_none_or(|m| m < 90) {
        return;
    }
    let file = format!("{}/hot-functions.txt", env("CARGO_MANIFEST_DIR"));
    println!("cargo:rustc-link-arg-bin=node-exporter=-Wl,--symbol-ordering-file={file}");
    println!("cargo:rustc-link-arg-bin=node-exporter=-Wl,--no-warn-symbol-ordering");
}
