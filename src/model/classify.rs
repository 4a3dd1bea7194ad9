//! How a call ended, decided once for every front end: error, timeout, short-circuit (rejected by
//! an open breaker), and whether the failure is one a client retries. The store classifies each
//! call with [`classify`] when it records it; the dashboard, `report` and the rules read what the
//! store recorded, so no two places count the same thing differently.
//!
//! The word lists are the reference's shared regexes (`reference/resilience-telemetry.md` §2.0),
//! as case-insensitive substrings, plus the error names of libraries the regexes miss (pybreaker's
//! `CircuitBreakerError`).

use super::attrs::{Lookup, Value};
use super::log::{LogRecord, SEVERITY_ERROR};
use super::span::{Span, StatusCode};

/// The reference's `TIMEOUT_RE`, as lower-case substrings.
const TIMEOUT_WORDS: &[&str] = &[
    "timeout",
    "timed out",
    "timed-out",
    "timedout",
    "deadline",
    "timeoutrejected",
    "taskcanceled",
    "etimedout",
    "esockettimedout",
    "request_timeout",
];

/// The reference's `CB_OPEN_RE`, as lower-case substrings, plus pybreaker and friends.
const OPEN_BREAKER_WORDS: &[&str] = &[
    "callnotpermitted",
    "brokencircuit",
    "isolatedcircuit",
    "shortcircuit",
    "short-circuit",
    "short circuit",
    "short_circuit",
    "eopenbreaker",
    "breaker is open",
    "erropenstate",
    "circuitbreakererror",
    "circuit breaker still open",
    "circuit is open",
];

/// Attribute keys of the HTTP response status, newest semantic conventions first.
pub const HTTP_STATUS_KEYS: &[&str] = &["http.response.status_code", "http.status_code"];
/// Attribute keys of the HTTP resend ordinal (`1` on the first resend).
pub const RESEND_KEYS: &[&str] = &["http.request.resend_count", "http.resend_count"];
/// Attribute keys of Envoy/Istio response flags (`UO` = overflow, `UT` = upstream timeout).
const RESPONSE_FLAG_KEYS: &[&str] = &["response_flags", "envoy.response_flags"];

/// How one call ended, as every front end counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Failed: status ERROR, HTTP ≥ 500, or a non-OK gRPC status.
    pub error: bool,
    /// Failed by timing out: HTTP 408/504, gRPC DEADLINE_EXCEEDED, Envoy `UT`, or `TIMEOUT_RE`.
    pub timeout: bool,
    /// Rejected by an open circuit breaker without reaching the dependency: a failure whose
    /// error type, status message or exception matches `CB_OPEN_RE`, or Envoy `UO`.
    pub short_circuit: bool,
    /// A failure a client retries: 5xx, 429, 408, a timeout, or an error with no HTTP status
    /// (refused connection, reset, DNS). Other 4xx are not retried failures.
    pub retryable: bool,
    /// HTTP response status, when the span has one.
    pub http_status: Option<u16>,
    /// The HTTP resend ordinal (`http.request.resend_count`), when present.
    pub resend: Option<u32>,
}

/// Classifies one span (any kind; the store applies it to CLIENT/PRODUCER spans).
pub fn classify(span: &Span) -> Outcome {
    classify_with(span, &span.attributes)
}

/// [`classify`], reading the span's attributes through `a` (the store passes an
/// [`Indexed`](super::attrs::Indexed) view it also names the call with).
pub fn classify_with(span: &Span, a: &impl Lookup) -> Outcome {
    let http_status = a
        .first_i64(HTTP_STATUS_KEYS)
        .and_then(|n| u16::try_from(n).ok());
    let error = error_by(span, |i| a.get(STATUS_KEYS[i]));
    let timeout = timeout_of(span, a);
    let short_circuit = error && breaker_open_in(span, a);
    let retryable = match http_status {
        Some(s) if s >= 500 => true,
        Some(429 | 408) => true,
        Some(_) => timeout,
        None => error || timeout,
    };
    Outcome {
        error,
        timeout,
        short_circuit,
        retryable,
        http_status,
        resend: a.first_i64(RESEND_KEYS).and_then(|n| u32::try_from(n).ok()),
    }
}

/// The HTTP response status of a span, both semantic-convention generations.
pub fn http_status(span: &Span) -> Option<u16> {
    span.attributes
        .first_i64(HTTP_STATUS_KEYS)
        .and_then(|n| u16::try_from(n).ok())
}

/// Whether the span failed: status ERROR, HTTP status ≥ 500 (4xx is the client's concern, not
/// an error of the dependency), a non-OK gRPC status code on an RPC span, or a log record of the
/// span that is error evidence ([`is_error_log`]; the store marks the span when it joins them).
pub fn is_error(span: &Span) -> bool {
    let a = &span.attributes;
    let pos = status_positions(a);
    error_by(span, |i| pos[i].and_then(|p| a.value_at(p)))
}

/// [`is_error`] with the value of each of [`STATUS_KEYS`] (by index) from `status`.
fn error_by<'a>(span: &Span, status: impl Fn(usize) -> Option<Value<'a>>) -> bool {
    if span.status == StatusCode::Error || span.error_logged() {
        return true;
    }
    let int_at = |i: usize| status(i).and_then(|v| v.as_i64());
    // HTTP_STATUS_KEYS in order: the first present with an integer value.
    if int_at(0)
        .or_else(|| int_at(1))
        .is_some_and(|code| code >= 500)
    {
        return true;
    }
    if let Some(code) = int_at(2) {
        return code != 0;
    }
    // semconv v1.39+: rpc.response.status_code holds the gRPC code name or number.
    match status(3) {
        Some(v) => match v.as_i64() {
            Some(code) => code != 0,
            None => v.as_str().is_some_and(|s| !s.eq_ignore_ascii_case("OK")),
        },
        None => false,
    }
}

/// The status keys [`is_error`] reads, each of a length no other has.
const STATUS_KEYS: [&str; 4] = [
    "http.response.status_code",
    "http.status_code",
    "rpc.grpc.status_code",
    "rpc.response.status_code",
];

/// The first position of each of [`STATUS_KEYS`] in `a`, in one pass over its keys. The store
/// asks [`is_error`] of every span it takes; four lookups walked the keys four times and
/// compared each (a pointer chase per key), this walks them once and compares only a key of a
/// status key's length.
fn status_positions(a: &crate::model::attrs::Attributes) -> [Option<usize>; 4] {
    let mut pos = [None; 4];
    for (i, k) in a.keys().iter().enumerate() {
        let slot = match k.len() {
            25 => 0,
            16 => 1,
            20 => 2,
            24 => 3,
            _ => continue,
        };
        if pos[slot].is_none() && k.as_str() == STATUS_KEYS[slot] {
            pos[slot] = Some(i);
        }
    }
    pos
}

/// Whether a log record is error evidence for its span: severity ERROR or FATAL (severity number
/// ≥ 17), or an exception record (`exception.type` or `exception.message` set).
pub fn is_error_log(log: &LogRecord) -> bool {
    log.severity >= SEVERITY_ERROR || log.exception().is_some()
}

/// Whether a span failed by timing out: HTTP 408/504, gRPC DEADLINE_EXCEEDED (4), Envoy `UT`, or
/// a timeout word in the error type, status message or an exception event.
pub fn is_timeout(span: &Span) -> bool {
    timeout_of(span, &span.attributes)
}

fn timeout_of(span: &Span, a: &impl Lookup) -> bool {
    if matches!(a.first_i64(HTTP_STATUS_KEYS), Some(408 | 504)) {
        return true;
    }
    if a.first_i64(&["rpc.grpc.status_code"]) == Some(4) {
        return true;
    }
    if a.first_str(RESPONSE_FLAG_KEYS)
        .is_some_and(|f| f.split(',').any(|x| x.trim() == "UT"))
    {
        return true;
    }
    error_texts(
        span,
        a,
        &["error.type", "exception.type", "rpc.response.status_code"],
    )
    .any(|t| contains_any(t, TIMEOUT_WORDS))
}

/// Whether a failed span was rejected by an open circuit breaker (resilience4j
/// `CallNotPermitted`, Polly `BrokenCircuit`, Hystrix short-circuit, opossum `EOPENBREAKER`,
/// gobreaker `ErrOpenState`, pybreaker `CircuitBreakerError`, Envoy `UO`).
pub fn is_short_circuit(span: &Span) -> bool {
    is_error(span) && breaker_open_in(span, &span.attributes)
}

/// Whether a span (known to have failed) says an open breaker rejected it.
fn breaker_open_in(span: &Span, a: &impl Lookup) -> bool {
    if a.first_str(RESPONSE_FLAG_KEYS)
        .is_some_and(|f| f.split(',').any(|x| x.trim() == "UO"))
    {
        return true;
    }
    error_texts(span, a, &["error.type", "exception.type"]).any(mentions_open_breaker)
}

/// Whether a text names an open breaker (`CB_OPEN_RE`).
pub fn mentions_open_breaker(text: &str) -> bool {
    contains_any(text, OPEN_BREAKER_WORDS)
}

/// Whether a text names a timeout (`TIMEOUT_RE`).
pub fn mentions_timeout(text: &str) -> bool {
    contains_any(text, TIMEOUT_WORDS)
}

fn contains_any(text: &str, words: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w))
}

/// The texts that describe a span's failure: the first of `type_keys` present, the status
/// message, and the type or message of each exception event.
fn error_texts<'a>(
    span: &'a Span,
    a: &'a impl Lookup,
    type_keys: &'a [&'a str],
) -> impl Iterator<Item = &'a str> + 'a {
    a.first_str(type_keys)
        .into_iter()
        .chain(
            span.extras
                .as_ref()
                .and_then(|e| e.status_message.as_deref()),
        )
        .chain(
            span.events()
                .iter()
                .filter(|e| &*e.name == "exception")
                .flat_map(|e| {
                    e.attributes
                        .first_str(&["exception.type", "exception.message"])
                }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use crate::testkit::{SpanBuilder, span};

    fn client() -> SpanBuilder {
        span(1, 2, 1, "a", "call", SpanKind::Client, 0, 1_000_000)
    }

    /// `is_error` as four lookups, before it read the status keys in one pass.
    fn is_error_by_lookups(span: &Span) -> bool {
        if span.status == StatusCode::Error || span.error_logged() {
            return true;
        }
        let a = &span.attributes;
        if a.first_i64(HTTP_STATUS_KEYS)
            .is_some_and(|code| code >= 500)
        {
            return true;
        }
        if let Some(code) = a.first_i64(&["rpc.grpc.status_code"]) {
            return code != 0;
        }
        match a.get("rpc.response.status_code") {
            Some(v) => match v.as_i64() {
                Some(code) => code != 0,
                None => v.as_str().is_some_and(|s| !s.eq_ignore_ascii_case("OK")),
            },
            None => false,
        }
    }

    #[test]
    fn status_keys_have_lengths_no_other_has() {
        for (i, k) in STATUS_KEYS.iter().enumerate() {
            for o in &STATUS_KEYS[i + 1..] {
                assert_ne!(k.len(), o.len(), "{k} and {o}");
            }
        }
        assert_eq!(&STATUS_KEYS[..2], HTTP_STATUS_KEYS);
    }

    #[test]
    fn one_pass_is_error_agrees_with_the_lookups() {
        // Every key in some order, absent, as an integer or a string, twice (the first counts),
        // beside decoys of the same lengths.
        let keys = STATUS_KEYS
            .iter()
            .copied()
            .chain([
                "http.response.status_xxxx",
                "xxxx.status_code",
                "rpc.grpc.status_xxxx",
            ])
            .collect::<Vec<_>>();
        let values: [Option<Result<i64, &str>>; 9] = [
            None,
            Some(Ok(0)),
            Some(Ok(200)),
            Some(Ok(404)),
            Some(Ok(503)),
            Some(Ok(14)),
            Some(Err("OK")),
            Some(Err("UNAVAILABLE")),
            Some(Err("503")),
        ];
        let mut next = crate::testkit::xorshift(0x9e37_79b9_7f4a_7c15u64);
        for case in 0..20_000 {
            let mut b = client();
            for _ in 0..next(8) {
                let k = keys[next(keys.len())];
                b = match values[next(values.len())] {
                    None => b.attr("filler", "x"),
                    Some(Ok(v)) => b.int(k, v),
                    Some(Err(v)) => b.attr(k, v),
                };
            }
            let sp = b.build();
            assert_eq!(
                is_error(&sp),
                is_error_by_lookups(&sp),
                "case {case}: {:?}",
                sp.attributes
            );
        }
    }

    #[test]
    fn outcomes_of_common_failures() {
        let ok = client().int("http.response.status_code", 200).build();
        assert_eq!(
            classify(&ok),
            Outcome {
                http_status: Some(200),
                ..Outcome::default()
            }
        );
        let o = classify(&client().int("http.response.status_code", 503).build());
        assert!(o.error && o.retryable && !o.timeout && !o.short_circuit);
        let o = classify(&client().int("http.status_code", 404).build());
        assert!(
            !o.error && !o.retryable,
            "a 404 is neither an error nor retried"
        );
        let o = classify(&client().int("http.response.status_code", 429).build());
        assert!(
            o.retryable && !o.error,
            "429 is retried though not an error"
        );
        let o = classify(&client().int("http.response.status_code", 504).build());
        assert!(o.timeout && o.error);
        let o = classify(&client().int("http.request.resend_count", 2).build());
        assert_eq!(o.resend, Some(2));
    }

    #[test]
    fn short_circuits_from_every_library_and_envoy() {
        for ty in [
            "io.github.resilience4j.circuitbreaker.CallNotPermittedException",
            "Polly.CircuitBreaker.BrokenCircuitException",
            "EOPENBREAKER",
            "pybreaker.CircuitBreakerError",
            "gobreaker.ErrOpenState",
        ] {
            let o = classify(&client().error(ty).build());
            assert!(o.short_circuit, "{ty}");
            assert!(o.retryable, "{ty}: clients do retry breaker rejections");
        }
        let uo = client()
            .int("http.response.status_code", 503)
            .attr("response_flags", "UO")
            .build();
        assert!(classify(&uo).short_circuit);
        assert!(!classify(&client().error("IOError").build()).short_circuit);
        let ok = client()
            .attr("error.type", "CallNotPermittedException")
            .build();
        assert!(
            !classify(&ok).short_circuit,
            "only failed calls are rejections"
        );
    }

    #[test]
    fn timeouts_by_words_codes_and_flags() {
        let o = classify(&client().error("java.net.SocketTimeoutException").build());
        assert!(o.timeout && o.retryable);
        let o = classify(&client().int("rpc.grpc.status_code", 4).build());
        assert!(o.timeout && o.error);
        let o = classify(&client().attr("response_flags", "UT").build());
        assert!(o.timeout && !o.error);
    }
}
