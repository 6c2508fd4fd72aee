//! The client side of TLS to a Redis server, built once at start-up: which CAs to trust (a file,
//! else the system's), an optional client certificate, "encrypt but do not verify", and the name
//! to verify the server's certificate against when it is not the host dialled.
//!
//! Errors name the file and what is wrong with it, never which flag or URL parameter gave it:
//! each exporter words that itself (`--tls-ca-cert-file`, `ssl_ca_certs`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exporter_core::tls_client::{system_roots, SkipServerVerification};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// What the TLS client is made of; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CAs to trust; `None`: the system's bundle.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that require TLS client authentication (with
    /// `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Accept any server certificate (the session is still encrypted).
    pub skip_verify: bool,
    /// Verify the certificate against this name (and send it as SNI) instead of the host dialled,
    /// for servers reached by IP or through an alias their certificate does not carry.
    pub server_name: Option<String>,
}

/// Which file of [`TlsOptions`] an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// [`TlsOptions::ca_file`]
    Ca,
    /// [`TlsOptions::client_cert`]
    ClientCert,
    /// [`TlsOptions::client_key`]
    ClientKey,
}

impl fmt::Display for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFile::Ca => "CA certificate file",
            TlsFile::ClientCert => "client certificate file",
            TlsFile::ClientKey => "client key file",
        })
    }
}

/// Why a [`TlsClient`] could not be built (or a server name is unusable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read, or holds no usable PEM certificate or key.
    #[error("{file} {path}: {message}")]
    File {
        /// Which file.
        file: TlsFile,
        /// Its path, as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("a client certificate and its key go together")]
    HalfClientAuth,
    /// rustls refused the configuration.
    #[error("TLS client configuration: {0}")]
    Config(String),
    /// The server name is neither a DNS name nor an IP address.
    #[error("{name:?}: not a valid DNS name or IP address")]
    ServerName {
        /// The name given.
        name: String,
    },
}

impl TlsSetupError {
    /// The error worded with the names the user gave the files by (`name(TlsFile::Ca)` is, say,
    /// `--tls-ca-cert-file` or `--broker-url ssl_ca_certs`): `<name> <path>: <message>` for a
    /// file, `<certificate's name> and <key's name> go together`, and the others as displayed.
    pub fn worded_with(&self, name: impl Fn(TlsFile) -> &'static str) -> String {
        match self {
            TlsSetupError::File {
                file,
                path,
                message,
            } => format!("{} {path}: {message}", name(*file)),
            TlsSetupError::HalfClientAuth => format!(
                "{} and {} go together",
                name(TlsFile::ClientCert),
                name(TlsFile::ClientKey)
            ),
            other => other.to_string(),
        }
    }
}

/// A ready TLS client configuration; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Reads the files of `opts` and builds the configuration (ring, TLS 1.2 and 1.3).
    pub fn new(opts: &TlsOptions) -> Result<TlsClient, TlsSetupError> {
        let server_name = opts
            .server_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(server_name)
            .transpose()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let builder = if opts.skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(SkipServerVerification::new(provider))
        } else {
            let roots = match &opts.ca_file {
                Some(path) => {
                    let mut roots = rustls::RootCertStore::empty();
                    for c in load_certs(TlsFile::Ca, path)? {
                        roots
                            .add(c)
                            .map_err(|e| file_error(TlsFile::Ca, path, e.to_string()))?;
                    }
                    roots
                }
                None => system_roots(),
            };
            builder.with_root_certificates(roots)
        };
        let config = match (&opts.client_cert, &opts.client_key) {
            (Some(cert), Some(key)) => {
                let certs = load_certs(TlsFile::ClientCert, cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| file_error(TlsFile::ClientKey, key, e.to_string()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| TlsSetupError::Config(e.to_string()))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(TlsSetupError::HalfClientAuth),
        };
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The name to verify the certificate of a server dialled as `host` against: the override
    /// when there is one, else `host`.
    pub fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, TlsSetupError> {
        match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => server_name(host),
        }
    }

    /// The rustls configuration, for a connector of one's own.
    pub fn config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

fn server_name(name: &str) -> Result<ServerName<'static>, TlsSetupError> {
    ServerName::try_from(name.to_string()).map_err(|_| TlsSetupError::ServerName {
        name: name.to_string(),
    })
}

fn file_error(file: TlsFile, path: &Path, message: String) -> TlsSetupError {
    TlsSetupError::File {
        file,
        path: path.display().to_string(),
        message,
    }
}

fn load_certs(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(file, path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(file, path, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(file, path, "no PEM certificate found".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_worded_with_the_names_the_user_gave() {
        let name = |file| match file {
            TlsFile::Ca => "--ca",
            TlsFile::ClientCert => "--cert",
            TlsFile::ClientKey => "--key",
        };
        let file = TlsSetupError::File {
            file: TlsFile::ClientKey,
            path: "/k.pem".into(),
            message: "no key".into(),
        };
        assert_eq!(file.worded_with(name), "--key /k.pem: no key");
        assert_eq!(
            TlsSetupError::HalfClientAuth.worded_with(name),
            "--cert and --key go together"
        );
        let config = TlsSetupError::Config("x".into());
        assert_eq!(config.worded_with(name), config.to_string());
    }

    #[test]
    fn defaults_build_and_dial_by_host() {
        let tls = TlsClient::new(&TlsOptions::default()).unwrap();
        assert_eq!(
            tls.server_name_for("redis.example").unwrap(),
            ServerName::try_from("redis.example").unwrap()
        );
        assert!(tls.server_name_for("not a name").is_err());
        let skip = TlsOptions {
            skip_verify: true,
            ..TlsOptions::default()
        };
        assert!(TlsClient::new(&skip).is_ok());
    }

    #[test]
    fn server_name_override_is_checked_and_used() {
        let opts = |name: &str| TlsOptions {
            server_name: Some(name.into()),
            ..TlsOptions::default()
        };
        let tls = TlsClient::new(&opts(" redis.internal ")).unwrap();
        assert_eq!(
            tls.server_name_for("10.0.0.1").unwrap(),
            ServerName::try_from("redis.internal").unwrap()
        );
        let blank = TlsClient::new(&opts("")).unwrap();
        assert!(blank.server_name_for("10.0.0.1").is_ok());
        assert_eq!(
            TlsClient::new(&opts("bad name!")).unwrap_err(),
            TlsSetupError::ServerName {
                name: "bad name!".into()
            }
        );
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = std::env::temp_dir().join(format!("resp-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let err = TlsClient::new(&TlsOptions {
            ca_file: Some(not_pem.clone()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(
            matches!(&err, TlsSetupError::File { file: TlsFile::Ca, path, .. } if path.ends_with("not.pem")),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("CA certificate file "), "{err}");
        let missing = TlsClient::new(&TlsOptions {
            ca_file: Some(dir.join("missing.pem")),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(matches!(missing, TlsSetupError::File { .. }), "{missing:?}");
        let half = TlsClient::new(&TlsOptions {
            client_cert: Some(not_pem),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert_eq!(half, TlsSetupError::HalfClientAuth);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
