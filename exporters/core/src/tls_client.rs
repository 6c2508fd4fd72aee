//! What the exporters' TLS clients (to Redis, a Celery broker, PostgreSQL) share: the system's
//! trusted CAs, and the verifiers for the modes that authenticate the server less than fully:
//! "encrypt only" (`--skip-tls-verification`, `ssl_cert_reqs=none`, libpq's `sslmode=require`)
//! and "trusted chain, any name" (libpq's `sslmode=verify-ca`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

/// Where the system's CA bundle usually is (Debian/Ubuntu, Fedora/RHEL, Alpine, SUSE).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The system's trusted CAs: `SSL_CERT_FILE` if set, else the first bundle found where
/// distributions put it; empty when there is none (every server then fails verification).
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_CA_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if let Some(bundle) = bundle {
        if let Ok(certs) = CertificateDer::pem_file_iter(&bundle) {
            roots.add_parsable_certificates(certs.flatten());
        }
    }
    roots
}

/// The three verifier methods that check the handshake's signatures (the same on
/// `ServerCertVerifier` and `ClientCertVerifier`), with the algorithms of the
/// `Arc<CryptoProvider>` in field `$provider`: a verifier that relaxes what it accepts as a
/// certificate still proves the peer holds the certificate's key.
macro_rules! handshake_signatures_checked_by {
    ($provider:tt) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}
pub(crate) use handshake_signatures_checked_by;

/// Accepts any server certificate; the handshake's signatures are still checked, so the session
/// is encrypted with the key of whoever presented that certificate.
#[derive(Debug)]
pub struct SkipServerVerification(Arc<CryptoProvider>);

impl SkipServerVerification {
    /// For a rustls client config's `dangerous().with_custom_certificate_verifier`; `provider`'s
    /// algorithms check the handshake signatures.
    pub fn new(provider: Arc<CryptoProvider>) -> Arc<Self> {
        Arc::new(SkipServerVerification(provider))
    }
}

impl ServerCertVerifier for SkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures_checked_by!(0);
}

/// The server's chain must lead to one of `roots`, but its name is not checked (libpq's
/// `sslmode=verify-ca`).
#[derive(Debug)]
pub struct ChainOnlyVerification {
    chain: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ChainOnlyVerification {
    /// For a rustls client config's `dangerous().with_custom_certificate_verifier`.
    pub fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<Self>, VerifierBuilderError> {
        let chain = WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build()?;
        Ok(Arc::new(ChainOnlyVerification { chain, provider }))
    }
}

impl ServerCertVerifier for ChainOnlyVerification {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    handshake_signatures_checked_by!(provider);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_cert_file_names_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let bundle = dir.path().join("ca.pem");
        std::fs::write(&bundle, cert.cert.pem()).unwrap();
        // The only test in this binary that touches SSL_CERT_FILE.
        std::env::set_var("SSL_CERT_FILE", &bundle);
        let roots = system_roots();
        std::env::remove_var("SSL_CERT_FILE");
        assert_eq!(roots.len(), 1);
    }
}
