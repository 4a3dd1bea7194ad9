//! A growable list one pointer wide, for a trace's call records and log records: most traces
//! (every one-span trace of a service that samples per call) have none, and a `Vec` would cost
//! 24 bytes in every trace for them.

use std::ops::{Deref, DerefMut};

/// A `Vec` behind a box that exists only once the list has an element: 8 bytes when empty.
/// Reads and writes as a slice; grows by half (at least one), not by doubling.
#[derive(Clone, Debug, PartialEq)]
// Boxed on purpose: the box is what makes an empty list 8 bytes instead of a Vec's 24.
#[allow(clippy::box_collection)]
pub struct ThinVec<T>(Option<Box<Vec<T>>>);

impl<T> Default for ThinVec<T> {
    fn default() -> Self {
        ThinVec(None)
    }
}

impl<T> ThinVec<T> {
    /// An empty list (allocates nothing).
    pub const fn new() -> Self {
        ThinVec(None)
    }

    /// Elements the list can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.0.as_ref().map_or(0, |v| v.capacity())
    }

    /// Reserves room for exactly `extra` more elements.
    pub fn reserve_exact(&mut self, extra: usize) {
        self.0
            .get_or_insert_with(|| Box::new(Vec::new()))
            .reserve_exact(extra);
    }

    /// Appends an element, growing by half (at least one) when full: lists here are short, and
    /// a doubling leaves a third of the room unused.
    pub fn push(&mut self, item: T) {
        let v = self.0.get_or_insert_with(|| Box::new(Vec::new()));
        if v.len() == v.capacity() {
            v.reserve_exact((v.len() / 2).max(1));
        }
        v.push(item);
    }

    /// Heap bytes held: the box and the element buffer (elements' own heap not counted).
    pub fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |v| {
            std::mem::size_of::<Vec<T>>() + v.capacity() * std::mem::size_of::<T>()
        })
    }
}

impl<T> Deref for ThinVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T> DerefMut for ThinVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.0.as_deref_mut().map_or(&mut [], Vec::as_mut_slice)
    }
}

impl<'a, T> IntoIterator for &'a ThinVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> FromIterator<T> for ThinVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let v: Vec<T> = iter.into_iter().collect();
        if v.is_empty() {
            ThinVec(None)
        } else {
            ThinVec(Some(Box::new(v)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_one_pointer_and_reads_as_a_slice() {
        assert_eq!(std::mem::size_of::<ThinVec<u64>>(), 8);
        let mut v = ThinVec::new();
        assert!(v.is_empty() && v.capacity() == 0 && v.heap_bytes() == 0);
        for i in 0..5u64 {
            v.push(i);
        }
        assert_eq!(&v[..], &[0, 1, 2, 3, 4]);
        // Grows 1, 2, 3, 4, 6: by half, never doubling.
        assert_eq!(v.capacity(), 6);
        v[1] = 9;
        assert_eq!(
            (&v).into_iter().copied().collect::<Vec<_>>(),
            [0, 9, 2, 3, 4]
        );
        let w = v.clone();
        v.push(5);
        assert_eq!((w.len(), v.len()), (5, 6));
    }
}
