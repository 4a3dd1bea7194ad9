//! histogram_quantile never panics, whatever the bounds, counts and q (NaN, ±Inf included).
#![no_main]

use faultline::model::histogram::{Bucket, histogram_quantile_detailed};
use libfuzzer_sys::fuzz_target;

fn f64_at(chunk: &[u8]) -> f64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(chunk);
    f64::from_le_bytes(raw)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let q = f64_at(&data[..8]);
    let buckets: Vec<Bucket> = data[8..]
        .chunks_exact(16)
        .map(|c| Bucket {
            upper_bound: f64_at(&c[..8]),
            count: f64_at(&c[8..]),
        })
        .collect();
    let _ = histogram_quantile_detailed(q, &buckets);
    // Also with q in range, the usual case.
    let _ = histogram_quantile_detailed(q.abs().fract(), &buckets);
});
