//! TLS to PostgreSQL with rustls (ring provider), for libpq's sslmode semantics:
//! `require` encrypts without checking the certificate (unless `sslrootcert` is given, as libpq),
//! `verify-ca` checks the chain against `sslrootcert`, `verify-full` also checks the host name.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use exporter_core::tls_client::SkipServerVerification;

use crate::dsn::{Dsn, SslMode};

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
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
pub fn client_config(dsn: &Dsn) -> Result<Option<Arc<ClientConfig>>, TlsSetupError> {
    if dsn.sslmode == SslMode::Disable {
        return Ok(None);
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
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
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| file_err("sslrootcert", &root_path, e))?;
            if check_name {
                builder.with_webpki_verifier(webpki)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
            }
        }
    };
    let config = match (&dsn.sslcert, &dsn.sslkey) {
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
    Ok(Some(Arc::new(config)))
}

/// `sslmode=verify-ca`: the chain must lead to the root certificate; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres' TLS hook on top of tokio-rustls.
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
}

impl MakeRustlsConnect {
    pub fn new(config: Arc<ClientConfig>) -> Self {
        MakeRustlsConnect { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        // Unix socket "hosts" never negotiate TLS; any valid name will do for them.
        let name = ServerName::try_from(domain.to_string())
            .or_else(|_| ServerName::try_from("localhost".to_string()))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
        })
    }
}

pub struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(tls)))
        })
    }
}

pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM without channel binding (libpq's channel_binding=prefer falls back the same way).
        ChannelBinding::none()
    }
}
