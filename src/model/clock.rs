//! Wall-clock time as the store and the sources use it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock now in Unix nanoseconds (0 if the clock is before 1970).
pub fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
