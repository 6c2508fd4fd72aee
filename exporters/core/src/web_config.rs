//! `--web.config.file`: prometheus/exporter-toolkit's YAML (TLS and basic auth).
//!
//! Everything is validated at start-up: an unknown key, an unreadable certificate or a malformed
//! bcrypt hash is an error naming the file and the key, never a surprise at the first request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config {file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("web config {file}: {message}")]
    Invalid { file: PathBuf, message: String },
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
pub enum ClientAuthType {
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
    pub tls: Option<Arc<ServerConfig>>,
    pub basic_auth: Option<Arc<BasicAuth>>,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.basic_auth.as_ref().map(|b| b.users.len()),
            )
            .finish()
    }
}

impl WebConfig {
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| WebConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        Self::parse(&text, file)
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
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?
        };
        let base = file.parent().unwrap_or(Path::new("."));
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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `basic_auth_users`: user name -> bcrypt hash.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Checked for unknown users so a wrong name costs as much time as a wrong password.
    dummy_hash: String,
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> Result<Self, String> {
        for (user, hash) in &users {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|e| format!("basic_auth_users.{user}: not a valid bcrypt hash ({e})"))?;
        }
        // Same cost as the configured hashes, so the timing of both paths matches.
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy_hash = bcrypt::hash("not a real password", cost)
            .map_err(|e| format!("basic_auth_users: {e}"))?;
        Ok(BasicAuth { users, dummy_hash })
    }

    /// Checks an `Authorization` header value. Runs bcrypt: call it off the event loop.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(decode_basic) else {
            return false;
        };
        match self.users.get(&user) {
            Some(hash) => bcrypt::verify(password.as_bytes(), hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password.as_bytes(), &self.dummy_hash);
                false
            }
        }
    }
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 with padding; only used for the Authorization header.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.trim_end_matches('=').as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = chunk.len();
        if n < 2 {
            return None;
        }
        out.push((acc >> 16) as u8);
        if n > 2 {
            out.push((acc >> 8) as u8);
        }
        if n > 3 {
            out.push(acc as u8);
        }
    }
    Some(out)
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

    #[test]
    fn basic_auth_checks_user_and_password() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new([("alice".to_string(), hash)].into()).unwrap();
        // "alice:s3cret" and "alice:wrong", "bob:s3cret"
        assert!(auth.check(Some("Basic YWxpY2U6czNjcmV0")));
        assert!(!auth.check(Some("Basic YWxpY2U6d3Jvbmc=")));
        assert!(!auth.check(Some("Basic Ym9iOnMzY3JldA==")));
        assert!(!auth.check(Some("Bearer abc")));
        assert!(!auth.check(Some("Basic !!!")));
        assert!(!auth.check(None));
    }

    #[test]
    fn base64_decodes_padding_variants() {
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("YWJ").is_none());
        assert!(base64_decode("Y$==").is_none());
    }
}
