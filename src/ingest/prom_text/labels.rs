//! The label set of a sample or exemplar, stored without a heap allocation when it can be.
//!
//! Most label sets contain no backslash: then every name and value is a plain slice of the
//! exposition, and the set is kept as the (already validated) text between the braces and
//! re-scanned on access. Only sets with escapes are decoded into a vector. This keeps parsing at
//! zero allocations per sample, which is what makes large expositions fast.

use std::borrow::Cow;
use std::fmt;

/// Labels of one sample or exemplar, in written order. Iterate with `for (name, value) in
/// &labels`, or look one up with [`LabelSet::get`].
#[derive(Clone)]
pub struct LabelSet<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    /// Validated label-set text (inside the braces, after a quoted metric name if any) with no
    /// backslash in it, so names and values are the text between quotes (or bare names).
    Plain { text: Cow<'a, str>, len: usize },
    /// Pairs decoded because some name or value had escapes.
    Decoded(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

impl<'a> LabelSet<'a> {
    /// An empty label set.
    pub fn empty() -> Self {
        LabelSet(Repr::Plain {
            text: Cow::Borrowed(""),
            len: 0,
        })
    }

    /// A set over validated, backslash-free label text holding `len` labels.
    pub(crate) fn plain(text: &'a str, len: usize) -> Self {
        LabelSet(Repr::Plain {
            text: Cow::Borrowed(text),
            len,
        })
    }

    /// A set of already decoded pairs.
    pub fn from_pairs(pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> Self {
        LabelSet(Repr::Decoded(pairs))
    }

    /// The pairs in written order.
    pub fn iter(&self) -> LabelIter<'_> {
        LabelIter(match &self.0 {
            Repr::Plain { text, .. } => IterRepr::Plain(text),
            Repr::Decoded(pairs) => IterRepr::Decoded(pairs.iter()),
        })
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Plain { len, .. } => *len,
            Repr::Decoded(pairs) => pairs.len(),
        }
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs as owned strings.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// The same set owning its text.
    pub fn into_owned(self) -> LabelSet<'static> {
        LabelSet(match self.0 {
            Repr::Plain { text, len } => Repr::Plain {
                text: Cow::Owned(text.into_owned()),
                len,
            },
            Repr::Decoded(pairs) => Repr::Decoded(
                pairs
                    .into_iter()
                    .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned())))
                    .collect(),
            ),
        })
    }
}

impl Default for LabelSet<'_> {
    fn default() -> Self {
        LabelSet::empty()
    }
}

/// Equal when they hold the same pairs in the same order, however they are stored.
impl PartialEq for LabelSet<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for LabelSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'s> IntoIterator for &'s LabelSet<'_> {
    type Item = (&'s str, &'s str);
    type IntoIter = LabelIter<'s>;
    fn into_iter(self) -> LabelIter<'s> {
        self.iter()
    }
}

/// Iterator over `(name, value)` pairs of a [`LabelSet`].
pub struct LabelIter<'s>(IterRepr<'s>);

enum IterRepr<'s> {
    Plain(&'s str),
    Decoded(std::slice::Iter<'s, (Cow<'s, str>, Cow<'s, str>)>),
}

impl<'s> Iterator for LabelIter<'s> {
    type Item = (&'s str, &'s str);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Decoded(it) => it.next().map(|(n, v)| (&**n, &**v)),
            IterRepr::Plain(rest) => {
                let (pair, tail) = next_plain(rest)?;
                *rest = tail;
                Some(pair)
            }
        }
    }
}

/// The next `name="value"` of validated, backslash-free label text, and the text after it.
/// Returns `None` at the end (or, defensively, on anything unexpected).
fn next_plain(text: &str) -> Option<((&str, &str), &str)> {
    let text = text.trim_start_matches([' ', '\t', ',']);
    if text.is_empty() {
        return None;
    }
    let (name, rest) = if let Some(quoted) = text.strip_prefix('"') {
        let end = quoted.find('"')?;
        (&quoted[..end], &quoted[end + 1..])
    } else {
        let end = text.find([' ', '\t', '='])?;
        (&text[..end], &text[end..])
    };
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix('=')?;
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(((name, &rest[..end]), &rest[end + 1..]))
}
