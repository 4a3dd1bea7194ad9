//! PEM files for TLS, client and server side: certificate chains, private keys, CA bundles. Each
//! error names the file and what is wrong with it.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct TlsFileError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

fn err(file: &Path, message: impl Into<String>) -> TlsFileError {
    TlsFileError {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// Every certificate of a PEM file (a chain, or a CA bundle); at least one.
pub fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = std::fs::read(file).map_err(|e| err(file, format!("cannot read: {e}")))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| err(file, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err(
            file,
            "holds no certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(file: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let bytes = std::fs::read(file).map_err(|e| err(file, format!("cannot read: {e}")))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => err(
            file,
            "holds no private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key)",
        ),
        e => err(file, format!("not a PEM private key: {e}")),
    })
}

/// A root store of every certificate in a CA bundle.
pub fn root_store(file: &Path) -> Result<rustls::RootCertStore, TlsFileError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates(file)? {
        roots
            .add(c)
            .map_err(|e| err(file, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// The crypto provider faultline uses everywhere (ring: no C toolchain beyond `cc`, no OpenSSL).
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process-wide rustls provider (once; later calls do nothing). reqwest is built
/// without a provider of its own (no aws-lc), so any client built without
/// [`http_client::build`](super::http_client::build)'s configuration — a plain
/// `reqwest::Client::new()`, in tests say — needs this first.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// TLS 1.2 and 1.3: the minimum is TLS 1.2.
pub const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
