//! A private PKI for the TLS tests, made with `rcgen` (no openssl CLI): a CA, a server
//! certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA a client
//! should not trust. Files live in a temp directory dropped with the `Pki`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority that can issue certificates.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate (PEM).
    pub pem: String,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let pem = p.self_signed(&key).expect("self-signed CA").pem();
        Ca {
            params: p,
            key,
            pem,
        }
    }

    /// A certificate for `sans` (a server's names, or a client's), as (cert PEM, key PEM).
    pub fn issue(&self, cn: &str, sans: &[&str], client: bool) -> (String, String) {
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("leaf key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&key, &issuer).expect("sign leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// The files of a test PKI.
pub struct Pki {
    dir: tempfile::TempDir,
    /// The CA that signed everything below.
    pub ca: Ca,
    /// `ca.pem`.
    pub ca_file: PathBuf,
    /// `server.pem` / `server.key`: 127.0.0.1, ::1 and localhost.
    pub server_cert: PathBuf,
    /// The server key.
    pub server_key: PathBuf,
    /// `client.pem` / `client.key`: a client certificate from the same CA.
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
    /// `other-ca.pem`: a CA that signed none of these.
    pub other_ca_file: PathBuf,
}

impl Pki {
    /// Makes the CA and certificates and writes them.
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("faultline-pki")
            .tempdir()
            .expect("tempdir");
        let ca = Ca::new("faultline test CA");
        let (server, server_key) = ca.issue("localhost", &["127.0.0.1", "::1", "localhost"], false);
        let (client, client_key) = ca.issue("faultline-test-client", &["client.test"], true);
        let other = Ca::new("some other CA");
        let w = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write PKI file");
            p
        };
        Pki {
            ca_file: w("ca.pem", &ca.pem),
            server_cert: w("server.pem", &server),
            server_key: w("server.key", &server_key),
            client_cert: w("client.pem", &client),
            client_key: w("client.key", &client_key),
            other_ca_file: w("other-ca.pem", &other.pem),
            ca,
            dir,
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` in the PKI directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write PKI file");
        p
    }
}

/// A rustls client configuration trusting `ca` (and presenting a client certificate when
/// given), for tests that look at the handshake itself.
pub fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(c.expect("CA cert")).expect("add CA");
    }
    let b = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("cert file")
                .collect::<Result<Vec<_>, _>>()
                .expect("certs");
            let key = PrivateKeyDer::from_pem_file(key).expect("key");
            b.with_client_auth_cert(chain, key).expect("client cert")
        }
        None => b.with_no_client_auth(),
    }
}

/// Connects to `addr` over TLS and returns the server's leaf certificate (DER), or the error.
pub fn server_certificate(
    addr: std::net::SocketAddr,
    cfg: rustls::ClientConfig,
) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut conn =
        rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).map_err(|e| e.to_string())?;
    let mut sock = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.flush().map_err(|e| e.to_string())?;
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(tls.sock).map_err(|e| e.to_string())?;
    }
    let cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no server certificate")?;
    Ok(cert)
}
