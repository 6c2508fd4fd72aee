//! TLS to PostgreSQL with rustls (ring provider), for libpq's sslmode semantics:
//! `require` encrypts without checking the certificate (unless `sslrootcert` is given, as libpq),
//! `verify-ca` checks the chain against `sslrootcert`, `verify-full` also checks the host name.
//!
//! This module builds the rustls configuration (the sslmode semantics live in its certificate
//! verifier); the connection itself goes through `tokio-postgres-rustls`, which also hands
//! tokio-postgres the `tls-server-end-point` channel binding that SCRAM-SHA-256-PLUS needs.

use std::path::Path;
use std::sync::Arc;

use exporter_core::tls_client::{ChainOnlyVerification, SkipServerVerification};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::dsn::{Dsn, SslMode, TlsVersion};

/// Why the TLS configuration of a DSN cannot be built (a start-up error).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsSetupError {
    #[error("{what} {path}: {err}")]
    File {
        what: &'static str,
        path: String,
        err: String,
    },
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_err(what: &'static str, path: &Path, err: impl std::fmt::Display) -> TlsSetupError {
    TlsSetupError::File {
        what,
        path: path.display().to_string(),
        err: err.to_string(),
    }
}

/// The rustls client configuration for a DSN, or `None` for `sslmode=disable`.
pub(crate) fn client_config(dsn: &Dsn) -> Result<Option<Arc<ClientConfig>>, TlsSetupError> {
    if dsn.sslmode == SslMode::Disable {
        return Ok(None);
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(protocol_versions(dsn)?)
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    // libpq: with a root certificate, `require` behaves as `verify-ca`.
    let verify = match dsn.sslmode {
        SslMode::VerifyFull => Some(true),
        SslMode::VerifyCa => Some(false),
        SslMode::Require if dsn.sslrootcert.is_some() => Some(false),
        _ => None,
    };
    let builder = match verify {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(SkipServerVerification::new(provider())),
        Some(check_name) => {
            let root_path = dsn.sslrootcert.clone().unwrap_or_else(|| {
                let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
                Path::new(&home).join(".postgresql/root.crt")
            });
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&root_path)
                .map_err(|e| file_err("sslrootcert", &root_path, e))?;
            for cert in certs {
                let cert = cert.map_err(|e| file_err("sslrootcert", &root_path, e))?;
                roots
                    .add(cert)
                    .map_err(|e| file_err("sslrootcert", &root_path, e))?;
            }
            let roots = Arc::new(roots);
            let root_err = |e| file_err("sslrootcert", &root_path, e);
            if check_name {
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(root_err)?;
                builder.with_webpki_verifier(webpki)
            } else {
                // sslmode=verify-ca: the chain must lead to the root certificate; the name is
                // not checked.
                let chain_only = ChainOnlyVerification::new(roots, provider()).map_err(root_err)?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(chain_only)
            }
        }
    };
    let mut config = match (&dsn.sslcert, &dsn.sslkey) {
        (Some(cert_path), Some(key_path)) => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .map_err(|e| file_err("sslcert", cert_path, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err("sslcert", cert_path, e))?;
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| file_err("sslkey", key_path, e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.enable_sni = dsn.sslsni;
    if dsn.direct_tls() {
        // Direct TLS (PostgreSQL 17+) is only accepted with PostgreSQL's ALPN name.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok(Some(Arc::new(config)))
}

/// The TLS versions `ssl_min_protocol_version` / `ssl_max_protocol_version` allow, among the
/// two rustls implements (libpq's default minimum is TLS 1.2 too).
fn protocol_versions(
    dsn: &Dsn,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], TlsSetupError> {
    static BOTH: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_1_3: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    static ONLY_1_2: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let min = dsn.ssl_min_protocol_version.unwrap_or(TlsVersion::V1_2);
    let max = dsn.ssl_max_protocol_version.unwrap_or(TlsVersion::V1_3);
    match (min.max(TlsVersion::V1_2), max) {
        (_, max) if max < TlsVersion::V1_2 => Err(TlsSetupError::Rustls(
            "ssl_max_protocol_version below TLSv1.2: only TLS 1.2 and 1.3 are supported".into(),
        )),
        (min, max) if min > max => Err(TlsSetupError::Rustls(
            "ssl_min_protocol_version is above ssl_max_protocol_version".into(),
        )),
        (TlsVersion::V1_3, _) => Ok(ONLY_1_3),
        (_, TlsVersion::V1_2) => Ok(ONLY_1_2),
        _ => Ok(BOTH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(dsn: &str) -> Result<Vec<rustls::ProtocolVersion>, TlsSetupError> {
        let dsn = Dsn::parse(dsn).unwrap();
        protocol_versions(&dsn).map(|v| v.iter().map(|p| p.version).collect())
    }

    #[test]
    fn protocol_versions_follow_libpq_keys() {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(versions("host=h").unwrap(), [TLSv1_3, TLSv1_2]);
        assert_eq!(
            versions("host=h ssl_min_protocol_version=TLSv1").unwrap(),
            [TLSv1_3, TLSv1_2]
        );
        assert_eq!(
            versions("host=h ssl_min_protocol_version=TLSv1.3").unwrap(),
            [TLSv1_3]
        );
        assert_eq!(
            versions("host=h ssl_max_protocol_version=TLSv1.2").unwrap(),
            [TLSv1_2]
        );
        assert!(versions("host=h ssl_max_protocol_version=TLSv1.1").is_err());
        assert!(versions(
            "host=h ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2"
        )
        .is_err());
    }

    #[test]
    fn sni_and_alpn_as_the_dsn_says() {
        let config = |dsn: &str| client_config(&Dsn::parse(dsn).unwrap()).unwrap();
        assert!(config("host=h sslmode=disable").is_none());
        let default = config("host=h sslmode=require").unwrap();
        assert!(default.enable_sni && default.alpn_protocols.is_empty());
        let custom = config("host=h sslmode=require sslsni=0 sslnegotiation=direct").unwrap();
        assert!(!custom.enable_sni);
        assert_eq!(custom.alpn_protocols, [b"postgresql".to_vec()]);
    }
}
