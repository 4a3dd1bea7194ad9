//! The base-2 exponential bucket mapping of OTLP `ExponentialHistogram`: at scale `s`, bucket `i`
//! covers `(base^i, base^(i+1)]` with `base = 2^(2^-s)`, so a value equal to `base^i` belongs to
//! bucket `i - 1` (the OTel rule).
//!
//! Indexing is exact with respect to the boundaries returned by [`lower_boundary`]: for every
//! positive finite `v`, `lower_boundary(index(v)) < v <= lower_boundary(index(v) + 1)`.
//! - scale <= 0: boundaries are powers of two, the index comes from the binary exponent alone.
//! - scale 1..=10: the binary exponent plus a lookup of the 52-bit fraction in a per-scale table of
//!   boundary fractions (built once, lazily). A coarse cell table gives the candidate and one
//!   comparison corrects it, so no logarithm is taken.
//! - scale 11..=20: `log2` gives the candidate, one comparison against the boundaries corrects it.

use std::sync::OnceLock;

/// Smallest scale OTLP defines (and the smallest this sketch uses): buckets of 2^1024.
pub(crate) const MIN_SCALE: i32 = -10;
/// Largest scale OTLP defines.
pub(crate) const MAX_SCALE: i32 = 20;
const TABLE_MAX_SCALE: usize = 10;
const FRAC_BITS: u32 = 52;
const FRAC_MASK: u64 = (1 << FRAC_BITS) - 1;

/// Boundary fractions of one positive scale `s` (`n = 2^s` buckets per octave).
struct Table {
    /// `bounds[k]`: the 52 fraction bits of `2^(k / n)` as an f64, for `k` in `0..n`.
    bounds: Vec<u64>,
    /// `cells[c]`: how many `bounds[k]` with `k >= 1` lie below the start of cell `c`, where the
    /// fraction range is cut into `2n` equal cells. A cell is narrower than any bucket, so it holds
    /// at most one boundary and the candidate is off by at most one.
    cells: Vec<u16>,
}

static TABLES: [OnceLock<Table>; TABLE_MAX_SCALE] = [const { OnceLock::new() }; TABLE_MAX_SCALE];

fn table(scale: i32) -> Option<&'static Table> {
    let slot = TABLES.get(usize::try_from(scale).ok()?.checked_sub(1)?)?;
    Some(slot.get_or_init(|| build_table(scale)))
}

fn build_table(scale: i32) -> Table {
    let n = 1usize << scale;
    let bounds: Vec<u64> = (0..n)
        .map(|k| (k as f64 / n as f64).exp2().to_bits() & FRAC_MASK)
        .collect();
    let cell_shift = FRAC_BITS - (scale as u32 + 1);
    let mut below = 0usize;
    let cells = (0..2 * n as u64)
        .map(|c| {
            let start = c << cell_shift;
            while bounds.get(below + 1).is_some_and(|&b| b < start) {
                below += 1;
            }
            below as u16
        })
        .collect();
    Table { bounds, cells }
}

/// Binary exponent and fraction bits of a positive finite `v` (subnormals normalised).
fn decompose(v: f64) -> (i32, u64) {
    let split = |bits: u64| {
        (
            ((bits >> FRAC_BITS) & 0x7ff) as i32 - 1023,
            bits & FRAC_MASK,
        )
    };
    let (e, frac) = split(v.to_bits());
    if e > -1023 {
        return (e, frac);
    }
    // Subnormal (or zero, which callers never pass): scaling by 2^64 is exact and makes it normal.
    let (e, frac) = split((v * 18_446_744_073_709_551_616.0).to_bits());
    (e - 64, frac)
}

/// Bucket index of a positive finite `v` at `scale` (clamped to OTLP's `[-10, 20]`).
#[inline]
pub(crate) fn index(v: f64, scale: i32) -> i32 {
    // Fast path: a normal value that is not a power of two, at a scale whose table is built.
    let bits = v.to_bits();
    let (e, frac) = (
        ((bits >> FRAC_BITS) & 0x7ff) as i32 - 1023,
        bits & FRAC_MASK,
    );
    if e > -1023 && frac != 0 && scale > 0 {
        let slot = TABLES.get((scale - 1) as usize);
        if let Some(t) = slot.and_then(OnceLock::get) {
            return (e << scale) + t.sub_index(frac, scale);
        }
    }
    index_slow(v, scale)
}

impl Table {
    /// `j` such that `bounds[j] < frac <= bounds[j + 1]` (`bounds[n]` standing for 2.0).
    #[inline]
    fn sub_index(&self, frac: u64, scale: i32) -> i32 {
        let cell = (frac >> (FRAC_BITS - (scale as u32 + 1))) as usize;
        let mut j = self.cells.get(cell).map_or(0, |&c| usize::from(c));
        if self.bounds.get(j + 1).is_some_and(|&b| b < frac) {
            j += 1;
        }
        j as i32
    }
}

#[cold]
fn index_slow(v: f64, scale: i32) -> i32 {
    let scale = scale.clamp(MIN_SCALE, MAX_SCALE);
    let (e, frac) = decompose(v);
    if scale <= 0 {
        // Exact powers of two sit on a boundary and belong to the bucket below.
        let e = if frac == 0 { e - 1 } else { e };
        return e >> -scale;
    }
    if frac == 0 {
        return (e << scale) - 1;
    }
    if let Some(t) = table(scale) {
        return (e << scale) + t.sub_index(frac, scale);
    }
    let i = (v.log2() * f64::from(1u32 << scale)).floor() as i32;
    if v <= lower_boundary(i, scale) {
        i - 1
    } else if v > lower_boundary(i + 1, scale) {
        i + 1
    } else {
        i
    }
}

/// `2^e` for any `e`, saturating to 0 and infinity.
fn pow2(e: i64) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << FRAC_BITS)
    } else if e >= -1074 {
        f64::from_bits(1u64 << (e + 1074))
    } else {
        0.0
    }
}

/// Lower (exclusive) boundary `base^i` of bucket `i` at `scale`; the upper one is that of `i + 1`.
pub(crate) fn lower_boundary(i: i32, scale: i32) -> f64 {
    let scale = scale.clamp(MIN_SCALE, MAX_SCALE);
    if scale <= 0 {
        return pow2(i64::from(i) << -scale);
    }
    let k = (i & ((1 << scale) - 1)) as usize;
    let mantissa = match table(scale).and_then(|t| t.bounds.get(k)) {
        Some(&f) => f64::from_bits(f | 1f64.to_bits()),
        None => (k as f64 / f64::from(1u32 << scale)).exp2(),
    };
    mantissa * pow2(i64::from(i >> scale))
}

/// Geometric midpoint of bucket `i`: `base^(i + 1/2)`. Any value of the bucket is within a relative
/// error of `sqrt(base) - 1` of it (0.543% at scale 6).
pub(crate) fn midpoint(i: i32, scale: i32) -> f64 {
    let scale = scale.clamp(MIN_SCALE, MAX_SCALE);
    lower_boundary(i, scale) * (0.5 * (-f64::from(scale)).exp2()).exp2()
}
