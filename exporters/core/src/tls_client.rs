//! What the exporters' TLS clients (to Redis, a Celery broker, PostgreSQL) share: the system's
//! trusted CAs, and the verifier for "encrypt, but do not authenticate the server" modes
//! (`--skip-tls-verification`, `ssl_cert_reqs=none`, libpq's `sslmode=require`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
