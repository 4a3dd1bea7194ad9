//! Getting data in: OTLP receivers, capture files, and the decode from wire types to the model.

pub mod accept;
mod bounds;
pub mod capture;
pub mod channel;
pub mod decode;
pub mod decode_logs;
pub mod decode_metrics;
pub mod fleet;
pub mod grpc_raw;
pub mod http_client;
pub mod json;
pub mod limits;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_json;
pub mod prom_otlp;
pub mod prom_query;
pub mod prom_scrape;
pub mod prom_text;
pub mod receivers;
pub mod recorder;
pub mod server_tls;
pub mod sources;
pub mod tls_files;
pub mod wire;
