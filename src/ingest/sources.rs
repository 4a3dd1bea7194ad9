//! The metric sources to run (scrape targets, the PromQL server, extra profile directories),
//! as plain data: the command line and the configuration file are turned into it on the binary
//! side (`cli::sources`); `ingest` never sees either.

use std::path::PathBuf;

use super::prom_query::PromQuery;
use super::prom_scrape::ScrapeTarget;

/// The metric sources to start.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MetricSources {
    /// Scrape targets.
    pub scrape: Vec<ScrapeTarget>,
    /// The PromQL server.
    pub prometheus: Option<PromQuery>,
    /// Extra profile directories.
    pub profile_dirs: Vec<PathBuf>,
}
