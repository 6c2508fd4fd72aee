//! A test certificate authority: a CA in a temporary directory that issues server and client
//! certificates for TLS tests (Redis, RabbitMQ, the exporters' own clients).

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

/// A CA whose certificate is `ca.crt` in a temporary directory, removed on drop.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca_cert: Certificate,
    ca_key: KeyPair,
}

impl TestPki {
    /// A new CA named `ca_name`. OpenSSL takes a certificate whose subject equals its issuer as
    /// self-signed, so the CA's name should differ from the names it issues to.
    pub fn new(ca_name: &str) -> TestPki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();
        TestPki {
            dir,
            ca_cert,
            ca_key,
        }
    }

    /// Writes `<name>.crt` and `<name>.key`, a certificate for `sans` (common name `name`) signed
    /// by the CA; returns their paths.
    pub fn issue(&self, name: &str, sans: &[&str]) -> (String, String) {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        let write = |file: String, pem: String| {
            let path = self.dir.path().join(file);
            std::fs::write(&path, pem).unwrap();
            path.display().to_string()
        };
        (
            write(format!("{name}.crt"), cert.pem()),
            write(format!("{name}.key"), key.serialize_pem()),
        )
    }

    /// The temporary directory holding the CA and what it issued.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The arguments that make redis-server listen with TLS on `port`, presenting a certificate
    /// for `sans` from this CA (named `server`) and, with `client_auth`, requiring client
    /// certificates from it.
    pub fn redis_server_tls_args(
        &self,
        port: u16,
        sans: &[&str],
        client_auth: bool,
    ) -> Vec<String> {
        let (crt, key) = self.issue("server", sans);
        let auth = if client_auth { "yes" } else { "no" };
        [
            ("--tls-port", port.to_string()),
            ("--tls-cert-file", crt),
            ("--tls-key-file", key),
            ("--tls-ca-cert-file", self.ca()),
            ("--tls-auth-clients", auth.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
    }

    /// The CA certificate's path.
    pub fn ca(&self) -> String {
        self.dir.path().join("ca.crt").display().to_string()
    }
}
