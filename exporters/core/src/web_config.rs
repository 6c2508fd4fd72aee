//! `--web.config.file`: prometheus/exporter-toolkit's YAML (TLS and basic auth).
//!
//! Everything is validated at start-up: an unknown key, an unreadable certificate or a malformed
//! bcrypt hash is an error naming the file and the key, never a surprise at the first request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DistinguishedName, RootCertStore, ServerConfig};
use serde::Deserialize;

use crate::basic_auth::BasicAuth;

/// Why a web config cannot be used. At start-up it stops the exporter; on a reload the previous
/// configuration stays and this is logged once.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read (missing, no permission).
    #[error("web config {file}: cannot read: {source}")]
    Read {
        /// The web config file.
        file: PathBuf,
        /// What the OS reported.
        source: std::io::Error,
    },
    /// The file was read but cannot be served: bad YAML, an unknown key, an unusable
    /// certificate or key, a malformed bcrypt hash, TLS turned on or off without a restart.
    #[error("web config {file}: {message}")]
    Invalid {
        /// The web config file, or the name of a configuration the exporter built itself.
        file: PathBuf,
        /// What is wrong, starting with the key (`tls_server_config.cert_file ...`).
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTlsConfig>,
    http_server_config: Option<RawHttpConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTlsConfig {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: ClientAuthType,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
    /// Meaningless with rustls (it always prefers the server's order); accepted for compatibility.
    #[allow(dead_code)]
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpConfig {
    /// We serve HTTP/1.1 only; accepted so shared config files load.
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// exporter-toolkit's `client_auth_type` values (Go's tls.ClientAuthType names).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// A validated web configuration, ready for the server.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) basic_auth: Option<Arc<BasicAuth>>,
    pub(crate) headers: Vec<(String, String)>,
    /// Every file this configuration was read from (itself, certificates, keys, CAs): a change
    /// to any of them is a new configuration.
    pub(crate) files: Vec<PathBuf>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.basic_auth.as_ref().map(|b| b.user_count()),
            )
            .finish()
    }
}

impl WebConfig {
    /// Reads and [`parse`](Self::parse)s `file` once;
    /// [`ReloadingWebConfig`](crate::web_config_reload::ReloadingWebConfig) follows its changes.
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| WebConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, file)?;
        config.files.insert(0, file.to_path_buf());
        Ok(config)
    }

    /// Parses and validates; relative certificate paths resolve against the config's directory,
    /// as exporter-toolkit does.
    pub fn parse(text: &str, file: &Path) -> Result<WebConfig, WebConfigError> {
        let invalid = |message: String| WebConfigError::Invalid {
            file: file.to_path_buf(),
            message,
        };
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| invalid(e.to_string()))?
        };
        let base = file.parent().unwrap_or(Path::new("."));
        let mut files = Vec::new();
        if let Some(t) = &raw.tls_server_config {
            let referenced = [&t.cert_file, &t.key_file, &t.client_ca_file];
            files.extend(referenced.into_iter().flatten().map(|f| base.join(f)));
        }
        let tls = raw
            .tls_server_config
            .map(|t| build_tls(t, base).map_err(invalid))
            .transpose()?;
        let basic_auth = if raw.basic_auth_users.is_empty() {
            None
        } else {
            Some(Arc::new(
                BasicAuth::new(raw.basic_auth_users).map_err(invalid)?,
            ))
        };
        let headers = raw
            .http_server_config
            .map(|h| h.headers.into_iter().collect())
            .unwrap_or_default();
        Ok(WebConfig {
            tls,
            basic_auth,
            headers,
            files,
        })
    }
}

fn build_tls(raw: RawTlsConfig, base: &Path) -> Result<Arc<ServerConfig>, String> {
    let resolve = |p: &Path| base.join(p);
    let cert_file = raw
        .cert_file
        .ok_or("tls_server_config.cert_file: required when tls_server_config is set")?;
    let key_file = raw
        .key_file
        .ok_or("tls_server_config.key_file: required when tls_server_config is set")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(resolve(&cert_file))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_server_config.cert_file {}: no certificate found",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(resolve(&key_file))
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", key_file.display()))?;

    let versions = protocol_versions(raw.min_version.as_deref(), raw.max_version.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config.min_version: {e}"))?;

    let roots = match &raw.client_ca_file {
        Some(ca) => {
            let mut store = RootCertStore::empty();
            let ca_certs = CertificateDer::pem_file_iter(resolve(ca))
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca.display()))?;
            for c in ca_certs {
                store.add(c).map_err(|e| {
                    format!("tls_server_config.client_ca_file {}: {e}", ca.display())
                })?;
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let verifying = |allow_missing: bool| -> Result<Arc<dyn ClientCertVerifier>, String> {
        let roots = roots.clone().ok_or_else(|| {
            format!(
                "tls_server_config.client_ca_file: required for client_auth_type {:?}",
                raw.client_auth_type
            )
        })?;
        let b = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let b = if allow_missing {
            b.allow_unauthenticated()
        } else {
            b
        };
        b.build()
            .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
    };
    let builder =
        match raw.client_auth_type {
            ClientAuthType::NoClientCert => builder.with_no_client_auth(),
            ClientAuthType::RequestClientCert => builder
                .with_client_cert_verifier(Arc::new(AnyClientCert::new(false, provider.clone()))),
            ClientAuthType::RequireAnyClientCert => builder
                .with_client_cert_verifier(Arc::new(AnyClientCert::new(true, provider.clone()))),
            ClientAuthType::VerifyClientCertIfGiven => {
                builder.with_client_cert_verifier(verifying(true)?)
            }
            ClientAuthType::RequireAndVerifyClientCert => {
                builder.with_client_cert_verifier(verifying(false)?)
            }
        };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", key_file.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: &str, key: &str| match v {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        "TLS10" | "TLS11" => Err(format!(
            "tls_server_config.{key}: {v} is insecure and not supported; use TLS12 or TLS13"
        )),
        other => Err(format!(
            "tls_server_config.{key}: unknown TLS version {other:?} (TLS12, TLS13)"
        )),
    };
    let lo = min
        .map(|v| rank(v, "min_version"))
        .transpose()?
        .unwrap_or(12);
    let hi = max
        .map(|v| rank(v, "max_version"))
        .transpose()?
        .unwrap_or(13);
    if lo > hi {
        return Err("tls_server_config.min_version is above max_version".into());
    }
    let mut out = Vec::new();
    if lo <= 12 {
        out.push(&rustls::version::TLS12);
    }
    if hi >= 13 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

/// Go's RequestClientCert / RequireAnyClientCert: ask for a certificate but do not verify its
/// chain (the handshake signature is still checked, proving possession of the key).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl AnyClientCert {
    fn new(mandatory: bool, provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        AnyClientCert {
            mandatory,
            provider,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    crate::tls_client::handshake_signatures_checked_by!(provider);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(text, Path::new("/etc/web.yml"))
    }

    #[test]
    fn empty_file_means_plain_http_without_auth() {
        let c = parse("").unwrap();
        assert!(c.tls.is_none() && c.basic_auth.is_none());
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_and_key() {
        let err = parse("basic_auth_user:\n  a: b\n").unwrap_err().to_string();
        assert!(
            err.contains("/etc/web.yml") && err.contains("basic_auth_user"),
            "{err}"
        );
        let err = parse("tls_server_config:\n  cert: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cert"), "{err}");
    }

    #[test]
    fn bad_bcrypt_hash_names_the_user() {
        let err = parse("basic_auth_users:\n  alice: notahash\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("basic_auth_users.alice"), "{err}");
    }

    #[test]
    fn missing_certificate_file_names_the_key() {
        let err = parse(
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls_server_config.cert_file"), "{err}");
    }

    #[test]
    fn rejects_old_tls_versions() {
        assert!(protocol_versions(Some("TLS10"), None).is_err());
        assert!(protocol_versions(Some("TLS13"), Some("TLS12")).is_err());
        assert_eq!(protocol_versions(Some("TLS13"), None).unwrap().len(), 1);
    }
}
