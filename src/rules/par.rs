//! Splitting the context's one-pass work (`Context::build`, the per-request index, the
//! long-lived test, the retry chains) over the lint's threads: contiguous chunks, one scoped
//! thread each, results returned in chunk order so the output is the same for any thread count.

/// Fewer items than this per chunk: not worth a thread.
const MIN_CHUNK: usize = 256;

/// Runs `f(range)` over up to `threads` consecutive ranges covering `0..len` and returns the
/// results in range order. One range, on the caller's thread, when `threads` ≤ 1 or `len` is
/// small.
pub fn ranges<R, F>(len: usize, threads: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(std::ops::Range<usize>) -> R + Sync,
{
    let n = threads.min(len / MIN_CHUNK).max(1);
    if n == 1 {
        return vec![f(0..len)];
    }
    let size = len.div_ceil(n);
    std::thread::scope(|s| {
        let f = &f;
        let workers: Vec<_> = (0..len)
            .step_by(size)
            .map(|from| s.spawn(move || f(from..(from + size).min(len))))
            .collect();
        workers
            .into_iter()
            // A panic in a chunk panics the lint, as it would on one thread.
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Runs `f(offset, chunk)` over up to `threads` contiguous chunks of `items` and returns the
/// results in chunk order (`offset`: the chunk's first index in `items`).
pub fn chunks<T, R, F>(items: &[T], threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &[T]) -> R + Sync,
{
    ranges(items.len(), threads, |r| f(r.start, &items[r]))
}

/// [`chunks`] for a per-item map: `f(index, item)` for every item, in order.
pub fn map<T, R, F>(items: &[T], threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync,
{
    let parts = chunks(items, threads, |off, chunk| {
        chunk
            .iter()
            .enumerate()
            .map(|(i, t)| f(off + i, t))
            .collect::<Vec<R>>()
    });
    concat(parts)
}

/// The parts one after the other (the first part reused when there is only one).
pub fn concat<R>(parts: Vec<Vec<R>>) -> Vec<R> {
    if parts.len() == 1 {
        return parts.into_iter().flatten().collect();
    }
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for p in parts {
        out.extend(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_thread_count_gives_the_same_result_in_order() {
        let items: Vec<u32> = (0..10_000).collect();
        let one = map(&items, 1, |i, x| (i, x * 2));
        for threads in [2, 3, 7, 64] {
            assert_eq!(
                map(&items, threads, |i, x| (i, x * 2)),
                one,
                "{threads} threads"
            );
        }
        assert_eq!(one[9_999], (9_999, 19_998));
    }

    #[test]
    fn chunks_cover_every_item_once_with_their_offsets() {
        let items: Vec<usize> = (0..1_300).collect();
        let parts = chunks(&items, 4, |off, c| (off, c.to_vec()));
        assert!(parts.len() > 1, "1300 items on 4 threads are split");
        for (off, c) in &parts {
            assert_eq!(c[0], *off);
        }
        assert_eq!(concat(parts.into_iter().map(|(_, c)| c).collect()), items);
    }

    #[test]
    fn short_or_empty_inputs_stay_on_one_chunk() {
        let empty: [u8; 0] = [];
        assert_eq!(chunks(&empty, 8, |_, c| c.len()), vec![0]);
        assert_eq!(chunks(&[1, 2, 3], 8, |_, c| c.len()), vec![3]);
        assert_eq!(ranges(700, 2, |r| r), vec![0..350, 350..700]);
    }
}
