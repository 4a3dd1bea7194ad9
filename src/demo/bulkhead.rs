//! checkout's thread-pool bulkhead in front of `inventory` (resilience4j `ThreadPoolBulkhead`):
//! a fixed pool of threads and a bounded queue. A call runs on the first thread to come free,
//! waits in the queue meanwhile, and is rejected at once (`BulkheadFullException`) when the queue
//! is full. Calls arrive in time order (the simulation runs requests in arrival order), so a
//! first-free-thread assignment is FIFO.

/// The bulkhead's state: when each thread comes free, and the calls waiting or running.
#[derive(Debug)]
pub struct Bulkhead {
    free_at: Vec<u64>,
    capacity: usize,
    /// `(arrival, start)` of calls that waited for a thread.
    waiting: Vec<(u64, u64)>,
    /// `(start, end)` of calls on a thread.
    running: Vec<(u64, u64)>,
    /// Calls rejected so far.
    pub rejected: u64,
}

impl Bulkhead {
    /// A pool of `threads` threads with a queue of `capacity`.
    pub fn new(threads: usize, capacity: usize, now_ns: u64) -> Bulkhead {
        Bulkhead {
            free_at: vec![now_ns; threads.max(1)],
            capacity,
            waiting: Vec::new(),
            running: Vec::new(),
            rejected: 0,
        }
    }

    /// Submits a call arriving at `at_ns` that takes `work_ns` on a thread; returns when it
    /// starts, or `None` when the queue is full and it is rejected.
    pub fn submit(&mut self, at_ns: u64, work_ns: u64) -> Option<u64> {
        let (i, free) = self
            .free_at
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, f)| f)
            // `free_at` is never empty (at least one thread).
            .unwrap_or((0, at_ns));
        let start = free.max(at_ns);
        if start > at_ns {
            if self.queue_depth(at_ns) >= self.capacity as u64 {
                self.rejected += 1;
                return None;
            }
            self.waiting.push((at_ns, start));
        }
        self.free_at[i] = start + work_ns;
        self.running.push((start, start + work_ns));
        Some(start)
    }

    /// Calls waiting for a thread at `t_ns`.
    pub fn queue_depth(&self, t_ns: u64) -> u64 {
        self.waiting
            .iter()
            .filter(|&&(a, s)| a <= t_ns && t_ns < s)
            .count() as u64
    }

    /// Calls running on a thread at `t_ns` (the HTTP client's active requests).
    pub fn active(&self, t_ns: u64) -> u64 {
        self.running
            .iter()
            .filter(|&&(s, e)| s <= t_ns && t_ns < e)
            .count() as u64
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.free_at.len()
    }

    /// Queue capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets calls that have started (waiting) or ended (running) before `t_ns`.
    pub fn prune(&mut self, t_ns: u64) {
        self.waiting.retain(|&(_, s)| s > t_ns);
        self.running.retain(|&(_, e)| e > t_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_when_busy_and_rejects_when_full() {
        let mut b = Bulkhead::new(2, 1, 0);
        assert_eq!(b.submit(0, 100), Some(0));
        assert_eq!(b.submit(10, 100), Some(10));
        assert_eq!(b.submit(20, 100), Some(100), "waits for the first thread");
        assert_eq!(b.queue_depth(50), 1);
        assert_eq!(b.active(50), 2);
        assert_eq!(b.submit(30, 100), None, "queue full");
        assert_eq!(b.rejected, 1);
        assert_eq!(b.queue_depth(150), 0);
        b.prune(150);
        assert_eq!(b.active(150), 1);
    }
}
