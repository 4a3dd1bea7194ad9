//! The request's outer structure: `ExportTraceServiceRequest` → `ResourceSpans` (with its
//! `Resource`) → `ScopeSpans` (with its `InstrumentationScope`), each read field by field as
//! `otlp_json`'s mirror types read it; each `ScopeSpans`' spans are read by `spans`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer};

use super::attrs::{AttrsRead, AttrsSeed};
use super::scalar::{Lenient, Opt, Str};
use super::spans::SpanSeed;
use super::{Cx, Fields, List, Src, read, set};
use crate::ingest::bounds;
use crate::ingest::otlp_json::scalar_u32;
use crate::model::attrs::Attributes;

/// Reads a whole request into `cx.out`.
pub(super) fn request<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<(), D::Error> {
    read(d, &mut Request(cx))
}

/// `ExportTraceServiceRequest`.
struct Request<'c>(&'c mut Cx);

impl<'de> Fields<'de> for Request<'_> {
    const FIELDS: &'static [&'static str] = &["resourceSpans"];

    fn index(key: &[u8]) -> Option<usize> {
        matches!(key, b"resourceSpans" | b"resource_spans").then_some(0)
    }

    fn field<S: Src<'de>>(&mut self, _: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(src
            .value(List(&mut ResourceSpansSeed(&mut *self.0)))?
            .is_some())
    }
}

/// Each `ResourceSpans` of the request.
struct ResourceSpansSeed<'c>(&'c mut Cx);

impl<'de> DeserializeSeed<'de> for &mut ResourceSpansSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let cx = &mut *self.0;
        cx.resource = None;
        let first = cx.out.spans.len();
        read(d, &mut ResourceSpans { cx, first })
    }
}

/// A `ResourceSpans`; its spans are `cx.out.spans[first..]`.
struct ResourceSpans<'c> {
    cx: &'c mut Cx,
    first: usize,
}

impl<'de> Fields<'de> for ResourceSpans<'_> {
    const FIELDS: &'static [&'static str] = &["resource", "scopeSpans", "schemaUrl"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"resource" => Some(0),
            b"scopeSpans" | b"scope_spans" | b"instrumentationLibrarySpans" => Some(1),
            b"schemaUrl" | b"schema_url" => Some(2),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        let cx = &mut *self.cx;
        Ok(match i {
            0 => {
                let Some(r) = src.value(Opt(ResourceSeed(&mut *cx)))? else {
                    return Ok(false);
                };
                let attributes = r.unwrap_or_default();
                let resource = Arc::new(bounds::resource(attributes, &mut cx.it));
                // Spans read before the resource got the default one.
                for s in &mut cx.out.spans[self.first..] {
                    s.resource = resource.clone();
                }
                cx.resource = Some(resource);
                true
            }
            1 => src.value(List(&mut ScopeSpansSeed(cx)))?.is_some(),
            _ => src.value(Str)?.is_some(),
        })
    }
}

/// A `Resource`: its attributes.
struct ResourceSeed<'c>(&'c mut Cx);

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_> {
    type Value = Attributes;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Attributes, D::Error> {
        let mut f = Attrs::new(self.0);
        read(d, &mut f)?;
        Ok(f.finish())
    }
}

/// A struct read only for its `attributes` and `droppedAttributesCount` (a `Resource`).
struct Attrs<'c> {
    cx: &'c mut Cx,
    attrs: Option<AttrsRead>,
    dropped: u32,
}

impl<'c> Attrs<'c> {
    fn new(cx: &'c mut Cx) -> Self {
        Attrs {
            cx,
            attrs: None,
            dropped: 0,
        }
    }

    fn finish(self) -> Attributes {
        let cx = self.cx;
        let attrs = self.attrs.unwrap_or_else(|| AttrsRead::absent(cx));
        attrs.finish(self.dropped, cx)
    }
}

impl<'de> Fields<'de> for Attrs<'_> {
    const FIELDS: &'static [&'static str] = &["attributes", "droppedAttributesCount"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"attributes" => Some(0),
            b"droppedAttributesCount" | b"dropped_attributes_count" => Some(1),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(
                &mut self.attrs,
                src.value(AttrsSeed(&mut *self.cx))?.map(Some),
            ),
            _ => set(
                &mut self.dropped,
                src.value(Lenient(scalar_u32))?
                    .map(Option::unwrap_or_default),
            ),
        })
    }
}

/// Each `ScopeSpans` of a `ResourceSpans`.
struct ScopeSpansSeed<'c>(&'c mut Cx);

impl<'de> DeserializeSeed<'de> for &mut ScopeSpansSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let cx = &mut *self.0;
        cx.scope = None;
        let first = cx.out.spans.len();
        read(d, &mut ScopeSpans { cx, first })
    }
}

/// A `ScopeSpans`; its spans are `cx.out.spans[first..]`.
struct ScopeSpans<'c> {
    cx: &'c mut Cx,
    first: usize,
}

impl<'de> Fields<'de> for ScopeSpans<'_> {
    const FIELDS: &'static [&'static str] = &["scope", "spans", "schemaUrl"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"scope" | b"instrumentationLibrary" => Some(0),
            b"spans" => Some(1),
            b"schemaUrl" | b"schema_url" => Some(2),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        let cx = &mut *self.cx;
        Ok(match i {
            0 => {
                let Some(name) = src.value(Opt(ScopeSeed(&mut *cx)))? else {
                    return Ok(false);
                };
                let scope = cx.it.get(name.as_deref().unwrap_or(""));
                // Spans read before the scope got the empty name.
                for s in &mut cx.out.spans[self.first..] {
                    s.scope = scope.clone();
                }
                cx.scope = Some(scope);
                true
            }
            1 => src.value(List(&mut SpanSeed(cx)))?.is_some(),
            _ => src.value(Str)?.is_some(),
        })
    }
}

/// An `InstrumentationScope`: its name (version and attributes are checked, not kept).
struct ScopeSeed<'c>(&'c mut Cx);

impl<'de> DeserializeSeed<'de> for ScopeSeed<'_> {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut f = Scope {
            cx: self.0,
            name: Cow::Borrowed(""),
        };
        read(d, &mut f)?;
        Ok(f.name)
    }
}

/// An `InstrumentationScope`'s fields as read.
struct Scope<'c, 'de> {
    cx: &'c mut Cx,
    name: Cow<'de, str>,
}

impl<'de> Fields<'de> for Scope<'_, 'de> {
    const FIELDS: &'static [&'static str] = &["name", "version", "attributes"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"name" => Some(0),
            b"version" => Some(1),
            b"attributes" => Some(2),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(&mut self.name, src.value(Str)?),
            1 => src.value(Str)?.is_some(),
            _ => src.value(AttrsSeed(&mut *self.cx))?.is_some(),
        })
    }
}
