//! Grouping of samples into metric families by the name in `# TYPE` / `# HELP`.
//!
//! A family's samples are normally contiguous (both formats require it), so the family of the
//! previous line is tried first and the hash index is only consulted when the name changes.
//! Samples of a family that reappear later are still put back in it rather than rejected.

use std::collections::HashMap;

use super::error::{ErrorKind, shorten};
use std::borrow::Cow;

use super::{MetricFamily, MetricType, Sample};

/// Builds the families of one exposition in order of first appearance.
pub(crate) struct Builder<'a> {
    families: Vec<MetricFamily<'a>>,
    /// Whether each family (same index) had a `# TYPE` line.
    typed: Vec<bool>,
    index: HashMap<Cow<'a, str>, usize>,
    current: Option<usize>,
}

/// Suffixes a sample name may add to its family name, per type.
fn suffixes(kind: MetricType) -> &'static [&'static str] {
    match kind {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Summary => &["_count", "_sum", "_created"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
    }
}

/// Whether `sample` is `family` itself or `family` plus a suffix that `kind` allows.
fn belongs(family: &str, kind: MetricType, sample: &str) -> bool {
    match sample.strip_prefix(family) {
        Some("") => true,
        Some(suffix) => suffixes(kind).contains(&suffix),
        None => false,
    }
}

/// All suffixes any type allows, for the index lookup of a sample whose family is elsewhere.
const ALL_SUFFIXES: [&str; 8] = [
    "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
];

impl<'a> Builder<'a> {
    pub(crate) fn new() -> Self {
        Builder {
            families: Vec::new(),
            typed: Vec::new(),
            index: HashMap::new(),
            current: None,
        }
    }

    /// The family named exactly `name`, created (untyped, empty) if absent; becomes current.
    fn family_named(&mut self, name: Cow<'a, str>) -> usize {
        if let Some(i) = self.current.filter(|&i| self.families[i].name == name) {
            return i;
        }
        let i = match self.index.get(&*name) {
            Some(&i) => i,
            None => self.push_family(name),
        };
        self.current = Some(i);
        i
    }

    fn push_family(&mut self, name: Cow<'a, str>) -> usize {
        let i = self.families.len();
        self.index.insert(name.clone(), i);
        self.families.push(MetricFamily {
            name,
            help: None,
            unit: None,
            kind: MetricType::Unknown,
            samples: Vec::new(),
        });
        self.typed.push(false);
        i
    }

    /// Applies `# HELP name text`.
    pub(crate) fn help(&mut self, name: Cow<'a, str>, text: Cow<'a, str>) -> Result<(), ErrorKind> {
        let i = self.family_named(name);
        let family = &mut self.families[i];
        if family.help.is_some() {
            return Err(duplicate("HELP", &family.name));
        }
        family.help = Some(text);
        Ok(())
    }

    /// Applies `# UNIT name unit`.
    pub(crate) fn unit(&mut self, name: Cow<'a, str>, unit: &'a str) -> Result<(), ErrorKind> {
        let i = self.family_named(name);
        let family = &mut self.families[i];
        if family.unit.is_some() {
            return Err(duplicate("UNIT", &family.name));
        }
        family.unit = Some(Cow::Borrowed(unit));
        Ok(())
    }

    /// Applies `# TYPE name type`. A TYPE after the family's samples is refused, because those
    /// samples were already grouped under the untyped rules.
    pub(crate) fn set_type(
        &mut self,
        name: Cow<'a, str>,
        kind: MetricType,
    ) -> Result<(), ErrorKind> {
        let i = self.family_named(name);
        let family = &mut self.families[i];
        if self.typed[i] {
            return Err(duplicate("TYPE", &family.name));
        }
        if !family.samples.is_empty() {
            return Err(ErrorKind::TypeAfterSamples(shorten(&family.name)));
        }
        self.typed[i] = true;
        self.families[i].kind = kind;
        Ok(())
    }

    /// Adds a sample to its family: the current one, else one found by name (exact, then with a
    /// type suffix removed), else a new untyped family named after the sample.
    pub(crate) fn sample(&mut self, sample: Sample<'a>) {
        let i = match self.find_family(&sample.name) {
            Some(i) => i,
            None => self.push_family(sample.name.clone()),
        };
        self.current = Some(i);
        self.families[i].samples.push(sample);
    }

    fn find_family(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.current {
            let f = &self.families[i];
            if belongs(&f.name, f.kind, name) {
                return Some(i);
            }
        }
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        for suffix in ALL_SUFFIXES {
            let Some(base) = name.strip_suffix(suffix) else {
                continue;
            };
            if let Some(&i) = self.index.get(base)
                && suffixes(self.families[i].kind).contains(&suffix)
            {
                return Some(i);
            }
        }
        None
    }

    /// The families in order of first appearance. Families with metadata but no samples are
    /// kept: a declared metric that has no series yet is still worth showing.
    pub(crate) fn finish(self) -> Vec<MetricFamily<'a>> {
        self.families
    }
}

fn duplicate(what: &'static str, name: &str) -> ErrorKind {
    ErrorKind::DuplicateMetadata {
        what,
        family: shorten(name),
    }
}
