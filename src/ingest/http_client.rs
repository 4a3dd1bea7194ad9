//! HTTP clients of the metric sources (scrape targets, the PromQL server): `https://` through
//! rustls (no OpenSSL), a CA bundle that replaces the system roots, a client certificate (mTLS),
//! an explicit insecure-skip-verify that warns on every handshake, and per-source credentials
//! (basic auth or a bearer token) and extra headers, sent with every request.
//!
//! [`describe`] turns a failed request into a sentence naming the certificate problem ("the
//! server's certificate is not signed by a trusted CA (unknown issuer): set ca_file …").

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, SignatureScheme};

use super::tls_files::{self, TlsFileError};

/// Client-side TLS settings of one source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// CA bundle (PEM) to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM), for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (warned on every handshake).
    pub insecure_skip_verify: bool,
}

/// Credentials sent with every request.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// `Authorization: Basic …`.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(****)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:****)"),
        }
    }
}

/// How to reach one source: TLS, credentials, extra headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// TLS.
    pub tls: ClientTls,
    /// Credentials, if any.
    pub auth: Option<Auth>,
    /// Extra request headers (e.g. `X-Scope-OrgID` for Mimir).
    pub headers: Vec<(String, String)>,
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A CA, certificate or key file is unusable.
    #[error(transparent)]
    File(#[from] TlsFileError),
    /// A setting is wrong (names it).
    #[error("{0}")]
    Invalid(String),
}

/// Builds the client of one source. `name` (the URL) goes into the insecure-skip-verify warning.
pub fn build(settings: &ClientSettings, name: &str) -> Result<reqwest::Client, ClientError> {
    let provider = tls_files::provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(tls_files::VERSIONS)
        .map_err(|e| ClientError::Invalid(format!("TLS versions: {e}")))?;
    let t = &settings.tls;
    let builder = if t.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify {
                provider: provider.clone(),
                name: name.to_owned(),
            }))
    } else if let Some(ca) = &t.ca_file {
        let roots = Arc::new(tls_files::root_store(ca)?);
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| ClientError::Invalid(format!("{}: {e}", ca.display())))?;
        builder.with_webpki_verifier(verifier)
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| ClientError::Invalid(format!("system certificate store: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let mut config = match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => {
            let chain = tls_files::certificates(cert)?;
            let key_der = tls_files::private_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                ClientError::Invalid(format!(
                    "{} and {} do not make a client certificate: {e}",
                    cert.display(),
                    key.display()
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(ClientError::Invalid(
                "cert_file is set without key_file".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(ClientError::Invalid(
                "key_file is set without cert_file".into(),
            ));
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .no_proxy()
        .gzip(true)
        .user_agent(concat!("faultline/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers(settings)?)
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| ClientError::Invalid(describe(&e)))
}

/// The credentials and extra headers as default request headers (credentials marked sensitive).
fn headers(s: &ClientSettings) -> Result<HeaderMap, ClientError> {
    use base64::Engine;
    let mut map = HeaderMap::new();
    for (k, v) in &s.headers {
        let name = HeaderName::try_from(k.as_str())
            .map_err(|e| ClientError::Invalid(format!("header name {k:?}: {e}")))?;
        let value = HeaderValue::try_from(v.as_str())
            .map_err(|e| ClientError::Invalid(format!("header {k}: value: {e}")))?;
        map.append(name, value);
    }
    let auth = match &s.auth {
        None => None,
        Some(Auth::Bearer(t)) => Some(format!("Bearer {t}")),
        Some(Auth::Basic { username, password }) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        )),
    };
    if let Some(a) = auth {
        let mut v = HeaderValue::try_from(a).map_err(|_| {
            ClientError::Invalid("credentials hold characters a header cannot carry".into())
        })?;
        v.set_sensitive(true);
        map.insert(reqwest::header::AUTHORIZATION, v);
    }
    Ok(map)
}

/// Accepts every server certificate; warns on every handshake. The handshake signatures are
/// still checked (the peer holds the key of the certificate it shows).
#[derive(Debug)]
struct SkipVerify {
    provider: Arc<rustls::crypto::CryptoProvider>,
    name: String,
}

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        tracing::warn!(
            "{}: insecure_skip_verify: the certificate of {} was NOT verified",
            self.name,
            server_name.to_str()
        );
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

/// A failed request as one line: the TLS problem in words when there is one, then the causes.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = e.to_string();
    let mut tls = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if tls.is_none() {
            tls = rustls_error(c).map(tls_problem);
        }
        if !std::ptr::eq(c, e) {
            let m = c.to_string();
            if !chain.contains(&m) {
                chain.push_str(": ");
                chain.push_str(&m);
            }
        }
        cur = c.source();
    }
    if tls.is_none() {
        tls = alert_in_text(&chain);
    }
    let https = e
        .downcast_ref::<reqwest::Error>()
        .and_then(|r| r.url())
        .is_some_and(|u| u.scheme() == "https");
    match tls {
        Some(t) => format!("TLS: {t} ({chain})"),
        // With TLS 1.3 a server that wants a client certificate finishes the handshake and
        // then closes: the client sees a closed connection, not the alert.
        None if https && closed_early(&chain) => format!(
            "TLS: the server closed the connection right after the handshake: it may require a \
             client certificate (cert_file and key_file) signed by a CA it trusts ({chain})"
        ),
        None => chain,
    }
}

fn closed_early(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    [
        "broken pipe",
        "connection reset",
        "connection closed",
        "unexpected eof",
        "stream closed",
    ]
    .iter()
    .any(|p| c.contains(p))
}

/// The rustls error in `e`, also when an `io::Error` wraps it (its `source()` skips the inner
/// error, so it is looked at directly).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    let inner: &(dyn std::error::Error + 'static) = io.get_ref()?;
    rustls_error(inner)
}

fn refused_handshake(alert: &str) -> String {
    format!(
        "the server refused the handshake ({alert}): it may require a client certificate \
         (cert_file and key_file) signed by a CA it trusts"
    )
}

/// The alerts a server sends when it wants (another) client certificate.
const CLIENT_CERT_ALERTS: [&str; 5] = [
    "CertificateRequired",
    "HandshakeFailure",
    "BadCertificate",
    "UnknownCA",
    "CertificateUnknown",
];

/// The TLS problem named in an error's text, for when the rustls error only reaches us as text
/// (some connection errors carry it as a message, not as a value to downcast): rustls writes a
/// received alert as "received fatal alert: Name".
fn alert_in_text(chain: &str) -> Option<String> {
    let at = chain.find("received fatal alert: ")? + "received fatal alert: ".len();
    let name: String = chain[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    CLIENT_CERT_ALERTS
        .contains(&name.as_str())
        .then(|| refused_handshake(&name))
}

fn tls_problem(e: &rustls::Error) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the server's certificate is not signed by a trusted CA \
                (unknown issuer): set ca_file to the CA that signed it"
                .into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for the host in the URL ({c:?})")
            }
            C::Expired | C::ExpiredContext { .. } => {
                format!("the server's certificate has expired ({c:?})")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the server's certificate is not valid yet ({c:?})")
            }
            C::BadSignature => "the server's certificate has a bad signature".into(),
            C::Revoked => "the server's certificate is revoked".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "the server's certificate is not for TLS servers (extended key usage)".into()
            }
            other => format!("the server's certificate is invalid: {other:?}"),
        },
        rustls::Error::AlertReceived(
            a @ (AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown),
        ) => refused_handshake(&format!("{a:?}")),
        rustls::Error::InvalidMessage(_) => {
            "the server did not answer with TLS (is it plain http://?)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal that reaches us only as text is still explained (it did in a real mTLS scrape
    /// where the alert arrived before the connection closed).
    #[test]
    fn a_client_certificate_alert_in_text_is_explained() {
        let chain = "error sending request for url (https://127.0.0.1:1/metrics): client error \
                     (SendRequest): connection error: received fatal alert: BadCertificate";
        let m = alert_in_text(chain).expect("named");
        assert!(
            m.contains("client certificate") && m.contains("BadCertificate"),
            "{m}"
        );
        assert_eq!(alert_in_text("received fatal alert: DecodeError"), None);
        assert_eq!(alert_in_text("connection reset"), None);
    }

    /// A server whose certificate no trusted CA signed: the message says so in words.
    #[tokio::test]
    async fn unknown_issuer_is_named() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let cfg = crate::ingest::server_tls::build(
            &crate::ingest::receivers::ServerTls {
                cert_file: c.clone(),
                key_file: k,
                client_ca_file: None,
            },
            &[b"http/1.1".to_vec()],
        )
        .unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let acc = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
            while let Ok((s, _)) = l.accept().await {
                let _ = acc.accept(s).await;
            }
        });
        let client = build(&ClientSettings::default(), "test").unwrap();
        let e = client
            .get(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        let msg = describe(&e);
        assert!(
            msg.contains("not signed by a trusted CA (unknown issuer)"),
            "{msg}"
        );
        // With that certificate as the CA it connects (and fails later, at HTTP).
        let trusting = ClientSettings {
            tls: ClientTls {
                ca_file: Some(c),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = build(&trusting, "test")
            .unwrap()
            .get(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(!describe(&e).contains("unknown issuer"), "{}", describe(&e));
    }
}
