//! Wall-clock time as the store and the sources use it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock now in Unix nanoseconds (0 if the clock is before 1970).
pub fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// An instant given on the command line: an RFC 3339 time, an offset from the start of the
/// data (`+90s`), or an offset back from its end (`-30s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    /// Unix nanoseconds.
    At(u64),
    /// Nanoseconds after the first data.
    AfterStart(u64),
    /// Nanoseconds before the last data.
    BeforeEnd(u64),
}

impl TimeSpec {
    /// Parses `2026-12-03T10:15:00Z`, `+90s`, `+2m30s` or `-30s`.
    pub fn parse(s: &str) -> Result<TimeSpec, String> {
        let s = s.trim();
        let offset = |d: &str| {
            humantime::parse_duration(d)
                .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
                .map_err(|e| format!("invalid offset {s:?}: {e}"))
        };
        if let Some(d) = s.strip_prefix('+') {
            return offset(d).map(TimeSpec::AfterStart);
        }
        if let Some(d) = s.strip_prefix('-') {
            return offset(d).map(TimeSpec::BeforeEnd);
        }
        let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
            format!("invalid time {s:?}: {e} (use RFC 3339, e.g. 2026-12-03T10:15:00Z, or an offset such as +90s)")
        })?;
        let ns = t
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("time {s:?} is out of range"))?;
        Ok(TimeSpec::At(ns))
    }

    /// The instant in Unix nanoseconds, for data spanning `[first, last]`.
    pub fn resolve(self, (first, last): (u64, u64)) -> u64 {
        match self {
            TimeSpec::At(ns) => ns,
            TimeSpec::AfterStart(d) => first.saturating_add(d),
            TimeSpec::BeforeEnd(d) => last.saturating_sub(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets_parse_and_resolve() {
        assert_eq!(
            TimeSpec::parse("+90s").map(|t| t.resolve((1_000, 9_000_000_000_000))),
            Ok(90_000_001_000)
        );
        assert_eq!(
            TimeSpec::parse("-1s").map(|t| t.resolve((0, 5_000_000_000))),
            Ok(4_000_000_000)
        );
        assert_eq!(
            TimeSpec::parse("2025-01-01T12:00:00Z"),
            Ok(TimeSpec::At(1_735_732_800_000_000_000))
        );
        let e = TimeSpec::parse("yesterday").unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
    }
}
