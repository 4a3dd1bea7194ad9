//! Input bounds shared by every receiver and reader: body size and bounded decompression.

use std::io::Read;

/// Largest request body accepted, after decompression (16 MiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why a body could not be inflated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InflateError {
    /// The body inflates past the limit (a gzip bomb or simply too big).
    #[error("body inflates past the {limit}-byte limit")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
    /// The gzip stream is corrupt.
    #[error("invalid gzip body: {0}")]
    Corrupt(String),
}

/// Inflates a gzip body, reading at most `limit` bytes of output so a bomb costs nothing.
pub fn gunzip_bounded(body: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut dec = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| InflateError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(InflateError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory finish")
    }

    #[test]
    fn inflates_within_limit_and_refuses_bombs() {
        assert_eq!(gunzip_bounded(&gz(b"hello"), 100), Ok(b"hello".to_vec()));
        let bomb = gz(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            gunzip_bounded(&bomb, 1024 * 1024),
            Err(InflateError::TooLarge { limit: 1024 * 1024 })
        );
        assert!(matches!(
            gunzip_bounded(b"not gzip", 100),
            Err(InflateError::Corrupt(_))
        ));
    }
}
