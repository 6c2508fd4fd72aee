//! Records the git revision and rustc version for `<ns>_exporter_build_info` and `--version`.

use std::process::Command;

fn main() {
    let output = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let revision = output("git", &["rev-parse", "--short=12", "HEAD"]);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]);
    let rust_version = rustc_version.split_whitespace().nth(1).unwrap_or("unknown");
    println!("cargo:rustc-env=EXPORTER_GIT_REVISION={revision}");
    println!("cargo:rustc-env=EXPORTER_RUST_VERSION={rust_version}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}
