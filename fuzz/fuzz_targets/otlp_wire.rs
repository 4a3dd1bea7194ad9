//! `wire::decode` never panics on any bytes, and agrees with `prost` + `decode_traces`: the same
//! inputs are rejected, and accepted ones give equal spans.
#![no_main]

use faultline::ingest::decode::decode_traces;
use faultline::ingest::wire;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let ours = wire::decode(data);
    let theirs = ExportTraceServiceRequest::decode(data).map(|r| decode_traces(&r));
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            // NaN doubles are unequal to themselves; their Debug forms are not.
            if ours != theirs {
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
            }
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!(
            "wire {:?} vs prost {:?}",
            ours.map(|d| d.spans.len()),
            theirs.map(|d| d.spans.len())
        ),
    }
});
