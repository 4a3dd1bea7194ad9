//! What the OTLP receivers are started with: listen addresses, the bearer token, server TLS.
//! Plain data; the command line and the configuration file are turned into it by `cli`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Server-side TLS of both receivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// Certificate chain (PEM), reloaded when it changes on disk.
    pub cert_file: PathBuf,
    /// Private key (PEM), reloaded with the certificate.
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by a CA of this bundle.
    pub client_ca_file: Option<PathBuf>,
}

/// The receivers' configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// OTLP/gRPC listen address.
    pub otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    pub otlp_http: SocketAddr,
    /// Required `Authorization: Bearer` token, if any.
    pub auth_token: Option<String>,
    /// TLS for both receivers, if any.
    pub tls: Option<ServerTls>,
}
