//! `--config.file`: upstream's `auth_modules` for `/probe` (postgres_exporter.yml), the
//! credentials and connection options of probed targets:
//!
//! ```yaml
//! auth_modules:
//!   primary:
//!     type: userpass
//!     userpass:
//!       username: monitor
//!       password: secret
//!     options:
//!       sslmode: disable
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::dsn::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    auth_modules: BTreeMap<String, RawModule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    #[serde(rename = "type")]
    kind: String,
    userpass: Option<RawUserPass>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPass {
    username: String,
    #[serde(default)]
    password: String,
}

/// Credentials and connection options for probed targets, named in `auth_module=`.
#[derive(Debug, Clone)]
pub struct AuthModule {
    /// The role to connect as.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// Extra connection parameters (sslmode, ...), appended to the target's DSN.
    pub options: BTreeMap<String, String>,
}

/// The `auth_modules` of a `--config.file`, by name.
#[derive(Debug, Clone, Default)]
pub struct AuthModules {
    /// Every module, by the name `auth_module=` gives.
    pub modules: BTreeMap<String, AuthModule>,
}

impl AuthModules {
    /// Reads and parses the file; errors name the flag, the file and the key.
    pub fn load(path: &Path) -> Result<AuthModules, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config.file {}: {e}", path.display()))?;
        AuthModules::parse(&text).map_err(|e| format!("--config.file {}: {e}", path.display()))
    }

    /// Parses upstream's format; only `type: userpass` exists, and credentials belong under
    /// `userpass`, not in `options`.
    pub fn parse(text: &str) -> Result<AuthModules, String> {
        if text.trim().is_empty() {
            return Ok(AuthModules::default());
        }
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let mut auth_modules = BTreeMap::new();
        for (name, m) in raw.auth_modules {
            if m.kind != "userpass" {
                return Err(format!(
                    "auth_modules.{name}.type: {:?} is not supported (only userpass)",
                    m.kind
                ));
            }
            let up = m.userpass.ok_or_else(|| {
                format!("auth_modules.{name}: type userpass needs a userpass section")
            })?;
            for key in m.options.keys() {
                if matches!(key.as_str(), "user" | "password") {
                    return Err(format!(
                        "auth_modules.{name}.options.{key}: put it under userpass"
                    ));
                }
            }
            auth_modules.insert(
                name,
                AuthModule {
                    username: up.username,
                    password: Secret::new(up.password),
                    options: m.options,
                },
            );
        }
        Ok(AuthModules {
            modules: auth_modules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_format() {
        let c = AuthModules::parse(
            "auth_modules:\n  m1:\n    type: userpass\n    userpass:\n      username: u\n      password: p\n    options:\n      sslmode: disable\n",
        )
        .unwrap();
        let m = &c.modules["m1"];
        assert_eq!(m.username, "u");
        assert_eq!(m.password.expose(), "p");
        assert_eq!(m.options["sslmode"], "disable");
    }

    #[test]
    fn errors_name_the_key() {
        let e = AuthModules::parse("auth_modules:\n  m1:\n    type: tls\n").unwrap_err();
        assert!(e.contains("auth_modules.m1.type"), "{e}");
        let e = AuthModules::parse("auth_modules:\n  m1:\n    type: userpass\n    userpass:\n      username: u\n      pasword: x\n").unwrap_err();
        assert!(e.contains("pasword"), "{e}");
        let e = AuthModules::parse("bogus: 1\n").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }
}
