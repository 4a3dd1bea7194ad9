//! The packed block behind [`Attributes`](super::Attributes): one allocation per list.
//!
//! Hand-written (with `unsafe`) because no crate stores a list of mixed, partly shared values
//! in one block: boxing each value, or a `Vec` of 16-byte enums plus a heap string per unique
//! value, costs two to three times the bytes a span carried on the wire.
//!
//! Layout, 8-byte aligned: a 16-byte header — the key set's data pointer (`Arc<[Text]>`,
//! owned), the block's reference count (atomic u32: a clone shares the block, so copying a
//! span for a snapshot costs a count, not a copy), and one u32 holding the number of values
//! (low 8 bits; at most [`MAX_ATTRIBUTES`](super::MAX_ATTRIBUTES)) and the dropped count (high
//! 24 bits, saturating) — then the values packed back to back, each a tag byte and its payload:
//!
//! | tag | value | payload |
//! | --- | --- | --- |
//! | 0 | empty | — |
//! | 1, 2 | false, true | — |
//! | 3 | integer | zigzag LEB128 |
//! | 4 | double | 8 bytes LE |
//! | 5 | string in the block | LEB128 length, UTF-8 bytes |
//! | 6 | shared string | an owned `Text` pointer (8 bytes, unaligned) |
//! | 7 | bytes | LEB128 length, bytes |
//! | 8 | array or map | an owned `Arc<AttrValue>` pointer (8 bytes, unaligned) |
//!
//! The block owns one reference to every pointer in it, released when its last owner drops it.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use super::{AttrValue, KeySet, Text, Value};

const EMPTY: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const DOUBLE: u8 = 4;
const STR: u8 = 5;
const TEXT: u8 = 6;
const BYTES: u8 = 7;
const NESTED: u8 = 8;

const HEADER: usize = 16;
/// Most values a block holds (the count's 8 bits).
const MAX_VALUES: usize = u8::MAX as usize;
/// Largest dropped count a block keeps (24 bits); more saturates.
const MAX_DROPPED: u32 = (1 << 24) - 1;

/// The owning pointer to a block (`None`: an empty list with nothing dropped).
#[derive(Default)]
pub(super) struct Raw(pub(super) Option<NonNull<u8>>);

// SAFETY: a block is immutable after it is built (its owners share it through an atomic count,
// as an `Arc`) and owns only `Send + Sync` values (`Text`, `Arc<[Text]>`, `Arc<AttrValue>`),
// so sharing or sending it is as safe as sharing them.
unsafe impl Send for Raw {}
// SAFETY: see `Send`.
unsafe impl Sync for Raw {}

impl Raw {
    fn header(&self) -> Option<(*const Text, u32, usize)> {
        let p = self.0?.as_ptr();
        // SAFETY: a block starts with the 16-byte header written by `AttrsBuilder::finish`.
        unsafe {
            let keys = p.cast::<*const Text>().read();
            let word = p.add(12).cast::<u32>().read();
            Some((keys, word >> 8, (word & 0xff) as usize))
        }
    }

    /// The key set's keys.
    pub(super) fn keys(&self) -> &[Text] {
        match self.header() {
            // SAFETY: the header holds the data pointer of an `Arc<[Text]>` of `n` keys that the
            // block owns, so the keys live as long as `self`.
            Some((keys, _, n)) => unsafe { std::slice::from_raw_parts(keys, n) },
            None => &[],
        }
    }

    /// Another owner of the key set (an empty set for an empty list).
    pub(super) fn key_set(&self) -> KeySet {
        match self.header() {
            // SAFETY: the header holds the data pointer of an `Arc<[Text]>` of `n` keys that the
            // block owns one reference to; a new reference is counted before it is made.
            Some((keys, _, n)) => unsafe {
                let raw = std::ptr::slice_from_raw_parts(keys, n);
                Arc::increment_strong_count(raw);
                Arc::from_raw(raw)
            },
            None => Arc::from([]),
        }
    }

    /// The dropped count.
    pub(super) fn dropped(&self) -> u32 {
        self.header().map_or(0, |h| h.1)
    }

    /// The values, in order.
    pub(super) fn values(&self) -> Values<'_> {
        match (self.0, self.header()) {
            (Some(p), Some((_, _, n))) => Values {
                // SAFETY: values start right after the header.
                p: unsafe { p.as_ptr().add(HEADER) },
                left: n,
                _block: PhantomData,
            },
            _ => Values {
                p: std::ptr::null(),
                left: 0,
                _block: PhantomData,
            },
        }
    }

    /// Bytes of the block (0 when there is none).
    pub(super) fn block_bytes(&self) -> usize {
        match self.0 {
            Some(p) => {
                let mut v = self.values();
                while v.skip_one() {}
                v.p as usize - p.as_ptr() as usize
            }
            None => 0,
        }
    }

    /// The block's reference count.
    fn count(&self) -> Option<&AtomicU32> {
        let p = self.0?.as_ptr();
        // SAFETY: bytes 8..12 of the (8-aligned) header are the count, only ever accessed
        // atomically after the block is built.
        Some(unsafe { AtomicU32::from_ptr(p.add(8).cast::<u32>()) })
    }

    /// Another owner of the same block.
    pub(super) fn clone_block(&self) -> Raw {
        if let Some(c) = self.count() {
            // Relaxed, as `Arc::clone`: a new owner comes from an existing one.
            if c.fetch_add(1, Ordering::Relaxed) >= u32::MAX / 2 {
                // As `Arc`: billions of owners means leaked clones; wrapping would free a live block.
                std::process::abort();
            }
        }
        Raw(self.0)
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let (Some(p), Some(c)) = (self.0, self.count()) else {
            return;
        };
        // As `Arc::drop`: the last owner frees, after every other owner's use happened-before.
        if c.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: the block owns one reference to each pointer it holds (module docs); the last
        // owner releases each once, then frees the block with the layout it was allocated with.
        // One walk serves both: where it ends is the block's size (`block_bytes`, without a
        // second pass over values that are cold when an evicted trace is freed).
        unsafe {
            let mut v = self.values();
            while let Some((tag, at)) = v.next_raw() {
                release(tag, at);
            }
            let size = v.p as usize - p.as_ptr() as usize;
            if let Some((keys, _, n)) = self.header() {
                drop(Arc::from_raw(std::ptr::slice_from_raw_parts(keys, n)));
            }
            dealloc(p.as_ptr(), layout(size));
        }
    }
}

/// Releases the reference a value at `at` (payload) with `tag` owns.
///
/// # Safety
/// `at` must point at the payload of a value with that tag that owns its reference.
unsafe fn release(tag: u8, at: *const u8) {
    // SAFETY: per the contract, the pointer is an owned `Text` or `Arc<AttrValue>`.
    unsafe {
        match tag {
            TEXT => drop(Text::from_raw(read_ptr(at))),
            NESTED => drop(Arc::from_raw(read_ptr(at).cast::<AttrValue>().as_ptr())),
            _ => {}
        }
    }
}

fn layout(size: usize) -> Layout {
    // A block is at most 16 + 128 values of at most 4 KiB each: far below isize::MAX.
    Layout::from_size_align(size.max(HEADER), 8).unwrap_or(Layout::new::<[u64; 2]>())
}

fn allocate(size: usize) -> NonNull<u8> {
    let l = layout(size);
    // SAFETY: the layout has a non-zero size.
    NonNull::new(unsafe { alloc(l) }).unwrap_or_else(|| handle_alloc_error(l))
}

/// Reads an 8-byte pointer stored unaligned.
///
/// # Safety
/// `at` must point at 8 readable bytes written by `write_ptr` from a non-null pointer.
unsafe fn read_ptr(at: *const u8) -> NonNull<()> {
    // SAFETY: per the contract.
    unsafe { NonNull::new_unchecked(at.cast::<*mut ()>().read_unaligned()) }
}

/// Reads a LEB128 varint at `*p`, advancing it.
///
/// # Safety
/// `*p` must point at a varint the builder wrote.
unsafe fn varint(p: &mut *const u8) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        // SAFETY: per the contract, the varint's bytes are in the block.
        let b = unsafe { p.read() };
        // SAFETY: as above.
        *p = unsafe { p.add(1) };
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// The values of a block, decoded one after the other.
pub(super) struct Values<'a> {
    p: *const u8,
    left: usize,
    _block: PhantomData<&'a Raw>,
}

impl<'a> Values<'a> {
    /// The next value's tag and payload address, moving past it.
    fn next_raw(&mut self) -> Option<(u8, *const u8)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // SAFETY: `left > 0`, so `p` points at a value the builder wrote: a tag and its payload
        // as the module docs lay them out.
        unsafe {
            let tag = self.p.read();
            let at = self.p.add(1);
            let mut q = at;
            match tag {
                INT => {
                    varint(&mut q);
                }
                DOUBLE | TEXT | NESTED => q = q.add(8),
                STR | BYTES => {
                    let n = varint(&mut q) as usize;
                    q = q.add(n);
                }
                _ => {}
            }
            self.p = q;
            Some((tag, at))
        }
    }

    /// Moves past one value; false when there is none left.
    fn skip_one(&mut self) -> bool {
        self.next_raw().is_some()
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Value<'a>;

    /// Skips `n` values without decoding them (lookups by key position use this).
    #[inline]
    fn nth(&mut self, n: usize) -> Option<Value<'a>> {
        for _ in 0..n {
            if !self.skip_one() {
                return None;
            }
        }
        self.next()
    }

    fn next(&mut self) -> Option<Value<'a>> {
        let (tag, at) = self.next_raw()?;
        // SAFETY: `at` is the payload of a value with this tag, in a block that lives for 'a
        // and owns the pointers it holds (so their targets live for 'a too).
        Some(unsafe {
            match tag {
                FALSE => Value::Bool(false),
                TRUE => Value::Bool(true),
                INT => {
                    let mut q = at;
                    let z = varint(&mut q);
                    Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
                }
                DOUBLE => Value::Double(f64::from_bits(at.cast::<u64>().read_unaligned())),
                STR | BYTES => {
                    let mut q = at;
                    let n = varint(&mut q) as usize;
                    let b = std::slice::from_raw_parts(q, n);
                    if tag == STR {
                        // The builder only stores `&str`s here.
                        Value::Str(std::str::from_utf8_unchecked(b))
                    } else {
                        Value::Bytes(b)
                    }
                }
                TEXT => {
                    let t = ManuallyDrop::new(Text::from_raw(read_ptr(at)));
                    let s: *const str = t.as_str();
                    Value::Str(&*s)
                }
                NESTED => match &*read_ptr(at).cast::<AttrValue>().as_ptr() {
                    AttrValue::Array(a) => Value::Array(a),
                    AttrValue::Map(m) => Value::Map(m),
                    _ => Value::Empty,
                },
                _ => Value::Empty,
            }
        })
    }
}

/// Builds blocks: values are appended one by one, then [`finish`](Self::finish) moves them into
/// a block of exactly their size. Reusable: a decoder keeps one and builds every list with it.
#[derive(Default)]
pub struct AttrsBuilder {
    buf: Vec<u8>,
    n: usize,
}

impl Drop for AttrsBuilder {
    fn drop(&mut self) {
        self.clear();
    }
}

impl AttrsBuilder {
    /// Values appended so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no value was appended.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Forgets the values appended (releasing what they hold).
    pub fn clear(&mut self) {
        let mut v = Values {
            p: self.buf.as_ptr(),
            left: self.n,
            _block: PhantomData,
        };
        // SAFETY: `buf` holds `n` values this builder wrote, each owning its reference.
        while let Some((tag, at)) = v.next_raw() {
            unsafe { release(tag, at) };
        }
        self.buf.clear();
        self.n = 0;
    }

    /// Keeps the first `m` values, releasing the rest.
    fn truncate(&mut self, m: usize) {
        if m >= self.n {
            return;
        }
        let mut v = Values {
            p: self.buf.as_ptr(),
            left: self.n,
            _block: PhantomData,
        };
        for _ in 0..m {
            v.skip_one();
        }
        let keep = v.p as usize - self.buf.as_ptr() as usize;
        // SAFETY: the values after the first `m` each own their reference; released once.
        while let Some((tag, at)) = v.next_raw() {
            unsafe { release(tag, at) };
        }
        self.buf.truncate(keep);
        self.n = m;
    }

    fn put_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn put_ptr(&mut self, tag: u8, p: NonNull<()>) {
        self.buf.push(tag);
        self.buf
            .extend_from_slice(&(p.as_ptr() as usize).to_ne_bytes());
        self.n += 1;
    }

    /// Appends a string stored in the block.
    pub fn push_str_inline(&mut self, s: &str) {
        self.buf.push(STR);
        self.put_varint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self.n += 1;
    }

    /// Appends a shared string.
    pub fn push_text(&mut self, t: Text) {
        self.put_ptr(TEXT, Text::into_raw(t));
    }

    /// Appends an integer.
    pub fn push_int(&mut self, i: i64) {
        self.buf.push(INT);
        self.put_varint(((i << 1) ^ (i >> 63)) as u64);
        self.n += 1;
    }

    /// Appends a double.
    pub fn push_double(&mut self, d: f64) {
        self.buf.push(DOUBLE);
        self.buf.extend_from_slice(&d.to_bits().to_le_bytes());
        self.n += 1;
    }

    /// Appends a boolean.
    pub fn push_bool(&mut self, b: bool) {
        self.buf.push(if b { TRUE } else { FALSE });
        self.n += 1;
    }

    /// Appends bytes.
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.buf.push(BYTES);
        self.put_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
        self.n += 1;
    }

    /// Appends an empty value.
    pub fn push_empty(&mut self) {
        self.buf.push(EMPTY);
        self.n += 1;
    }

    /// Appends an owned value (strings stay shared when they are).
    pub fn push_value(&mut self, v: &AttrValue) {
        match v {
            AttrValue::Str(s) => self.push_text(s.clone()),
            AttrValue::Int(i) => self.push_int(*i),
            AttrValue::Double(d) => self.push_double(*d),
            AttrValue::Bool(b) => self.push_bool(*b),
            AttrValue::Bytes(b) => self.push_bytes(b),
            AttrValue::Array(_) | AttrValue::Map(_) => self.push_nested(v.clone()),
            AttrValue::Empty => self.push_empty(),
        }
    }

    /// Appends an array or a map (any other value is stored as itself).
    pub fn push_nested(&mut self, v: AttrValue) {
        match v {
            AttrValue::Array(_) | AttrValue::Map(_) => {
                let p = Arc::into_raw(Arc::new(v)).cast_mut().cast::<()>();
                // `Arc::into_raw` never returns null.
                if let Some(p) = NonNull::new(p) {
                    self.put_ptr(NESTED, p);
                }
            }
            other => self.push_value(&other),
        }
    }

    /// The list of the values appended under `keys` (one key per value: the caller keeps them
    /// in step), leaving the builder empty.
    pub fn finish(&mut self, keys: KeySet, dropped: u32) -> super::Attributes {
        debug_assert_eq!(keys.len(), self.n, "one key per value");
        if self.n == 0 && dropped == 0 {
            return super::Attributes::default();
        }
        let n = self.n.min(keys.len()).min(MAX_VALUES);
        // Values past the block's limit count as dropped; out of step (a caller bug): keep the
        // values that have a key.
        let dropped = dropped.saturating_add(self.n.min(keys.len()).saturating_sub(n) as u32);
        self.truncate(n);
        let keys = if keys.len() == n {
            keys
        } else {
            keys[..n].iter().cloned().collect()
        };
        let size = HEADER + self.buf.len();
        let p = allocate(size);
        let keys = Arc::into_raw(keys).cast::<Text>();
        // SAFETY: `p` has room for the header and the values; the values' references move from
        // the builder's buffer into the block (the buffer is then emptied without releasing).
        unsafe {
            p.as_ptr().cast::<*const Text>().write(keys);
            p.as_ptr().add(8).cast::<u32>().write(1);
            p.as_ptr()
                .add(12)
                .cast::<u32>()
                .write((dropped.min(MAX_DROPPED) << 8) | n as u32);
            std::ptr::copy_nonoverlapping(
                self.buf.as_ptr(),
                p.as_ptr().add(HEADER),
                self.buf.len(),
            );
        }
        self.buf.clear();
        self.n = 0;
        super::Attributes { raw: Raw(Some(p)) }
    }
}
