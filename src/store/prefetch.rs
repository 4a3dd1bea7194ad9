//! A hint to the CPU to start loading a cache line the store will read soon. The store's hot
//! loops walk memory far larger than the caches in an order it knows ahead (a batch's trace
//! ids, the next traces to evict, settle or free), so asking a few steps ahead turns a chain of
//! stalls into overlapping loads. The standard library has no portable prefetch; this wraps the
//! x86-64 instruction and is a no-op elsewhere.

/// Starts loading the cache line holding `p` into the caches. Never reads or writes through
/// `p` and never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it does not access memory architecturally and cannot fault,
    // even for an invalid address, so any pointer value is sound.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`line`] for both cache lines of a value up to 128 bytes long (a trace, a span's header).
#[inline(always)]
pub(crate) fn value<T>(p: *const T) {
    line(p);
    line(p.cast::<u8>().wrapping_add(64));
}
