//! `json::decode_direct` never panics on any bytes, and agrees with `otlp_json::parse_traces` +
//! `decode_traces`: the same inputs are rejected, and accepted ones give equal spans.
#![no_main]

use faultline::ingest::decode::decode_traces;
use faultline::ingest::{json, otlp_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = json::decode_direct(data);
    let theirs = otlp_json::parse_traces(data).map(|r| decode_traces(&r));
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            // NaN doubles are unequal to themselves; their Debug forms are not.
            if ours != theirs {
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
            }
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!(
            "json {:?} vs otlp_json {:?}",
            ours.map(|d| d.spans.len()),
            theirs.map(|d| d.spans.len())
        ),
    }
});
