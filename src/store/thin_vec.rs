//! Growable lists one pointer wide, for a trace's call records and log records: most traces
//! (every one-span trace of a service that samples per call) have none, and a `Vec` would cost
//! 24 bytes in every trace for them. [`ThinVec`] boxes a `Vec`; [`ThinList`] also holds a single
//! element in its box (the one call record of a one-span trace: one 40-byte allocation instead
//! of a 24-byte box and a 40-byte buffer).

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

/// What a [`ThinList`] boxes: its one element, or a vector of more.
#[derive(Clone)]
enum Items<T> {
    One(T),
    Many(Vec<T>),
}

/// A list one pointer wide whose box holds its only element inline, or a `Vec` once it has
/// more: a one-element list is one allocation of the element's size. Meant for small elements
/// (the box is as large as one element, so for large ones a longer list pays for it); reads and
/// writes as a slice; grows by half (at least one), not by doubling.
#[derive(Clone)]
pub struct ThinList<T>(Option<Box<Items<T>>>);

impl<T> Default for ThinList<T> {
    fn default() -> Self {
        ThinList(None)
    }
}

impl<T> ThinList<T> {
    /// An empty list (allocates nothing).
    pub const fn new() -> Self {
        ThinList(None)
    }

    /// Elements the list can hold without reallocating.
    pub fn capacity(&self) -> usize {
        match self.0.as_deref() {
            None => 0,
            Some(Items::One(_)) => 1,
            Some(Items::Many(v)) => v.capacity(),
        }
    }

    /// Appends an element: the first goes into the box, a second moves both into a vector
    /// (in the same box), which then grows by half (at least one) when full.
    pub fn push(&mut self, item: T) {
        let Some(b) = self.0.as_mut() else {
            self.0 = Some(Box::new(Items::One(item)));
            return;
        };
        match &mut **b {
            Items::Many(v) => {
                if v.len() == v.capacity() {
                    v.reserve_exact((v.len() / 2).max(1));
                }
                v.push(item);
            }
            Items::One(_) => {
                let mut v = Vec::with_capacity(2);
                if let Items::One(first) = std::mem::replace(&mut **b, Items::Many(Vec::new())) {
                    v.push(first);
                }
                v.push(item);
                **b = Items::Many(v);
            }
        }
    }

    /// Heap bytes held: the box and a vector's buffer (elements' own heap not counted).
    pub fn heap_bytes(&self) -> usize {
        match self.0.as_deref() {
            None => 0,
            Some(Items::One(_)) => std::mem::size_of::<Items<T>>(),
            Some(Items::Many(v)) => {
                std::mem::size_of::<Items<T>>() + v.capacity() * std::mem::size_of::<T>()
            }
        }
    }
}

impl<T> Deref for ThinList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self.0.as_deref() {
            None => &[],
            Some(Items::One(t)) => std::slice::from_ref(t),
            Some(Items::Many(v)) => v,
        }
    }
}

impl<T> DerefMut for ThinList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self.0.as_deref_mut() {
            None => &mut [],
            Some(Items::One(t)) => std::slice::from_mut(t),
            Some(Items::Many(v)) => v,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ThinList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for ThinList<T> {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl<'a, T> IntoIterator for &'a ThinList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> FromIterator<T> for ThinList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut l = ThinList::new();
        for t in iter {
            l.push(t);
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thin_list_holds_one_element_in_its_box_and_reads_as_a_slice() {
        assert_eq!(std::mem::size_of::<ThinList<u64>>(), 8);
        // The box of a one-element list is the element's size when the element has a niche
        // for the tag (a call record does: see `store::trace`).
        assert_eq!(
            std::mem::size_of::<Items<(u64, u64, u64, bool)>>(),
            std::mem::size_of::<(u64, u64, u64, bool)>()
        );
        let mut v = ThinList::new();
        assert!(v.is_empty() && v.capacity() == 0 && v.heap_bytes() == 0);
        v.push(7u64);
        assert_eq!((&v[..], v.capacity()), (&[7][..], 1));
        let one = v.clone();
        v[0] = 8;
        for i in 1..5u64 {
            v.push(i);
        }
        assert_eq!(&v[..], &[8, 1, 2, 3, 4]);
        // Grows 1, 2, 3, 4, 6: by half, never doubling.
        assert_eq!(v.capacity(), 6);
        assert_eq!(&one[..], &[7], "a copy is unchanged");
        assert_eq!(
            (&v).into_iter().copied().collect::<ThinList<_>>(),
            v,
            "equal as slices"
        );
        assert_eq!(format!("{one:?}"), "[7]");
    }

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
