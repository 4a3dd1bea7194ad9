//! A per-run memo of a name test (a glob list, a rule's scope): detectors ask about the same few
//! service, dependency and operation names on every one of hundreds of thousands of calls, and
//! a glob list of a dozen patterns costs thousands of instructions per question.

use foldhash::{HashMap, HashMapExt};

/// Remembers the answer of `test` for every name it was asked about. Names are borrowed from
/// the snapshot or context, so the memo holds no more than the distinct names already there.
pub struct Memo<'n, F: Fn(&str) -> bool> {
    test: F,
    seen: HashMap<&'n str, bool>,
}

impl<'n, F: Fn(&str) -> bool> Memo<'n, F> {
    /// A memo of `test`.
    pub fn new(test: F) -> Self {
        Memo {
            test,
            seen: HashMap::new(),
        }
    }

    /// `test(name)`, computed once per distinct name.
    pub fn get(&mut self, name: &'n str) -> bool {
        if let Some(&v) = self.seen.get(name) {
            return v;
        }
        let v = (self.test)(name);
        self.seen.insert(name, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;
    use std::cell::Cell;

    #[test]
    fn asks_once_per_name_and_answers_like_the_test() {
        let asked = Cell::new(0);
        let mut m = Memo::new(|s: &str| {
            asked.set(asked.get() + 1);
            s.starts_with("auth")
        });
        let names = ["auth-api", "orders", "auth-api", "orders", "authz"];
        let got: Vec<bool> = names.iter().map(|n| m.get(n)).collect();
        assert_eq!(got, vec![true, false, true, false, true]);
        assert_eq!(asked.get(), 3);
    }
}
