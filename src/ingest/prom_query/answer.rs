//! The PromQL HTTP API's JSON answer decoded straight into series with typed serde. A fleet
//! answer of 22,000 series was first a `serde_json::Value` tree, about twenty times the size of
//! the body (`docs/performance.md`, fleet scale); now only each sample (a `[t, "v"]` pair or a
//! native histogram object) is a small `Value`, read and dropped as the answer goes by.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::convert::{QSeries, QueryResult, sample};

/// The envelope: `status`, an error's `errorType` and `error`, or `data`.
#[derive(Deserialize)]
struct Answer {
    status: Option<String>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    data: Option<Data>,
}

/// `data`: its `result` (`resultType` is read from the series' shape instead).
#[derive(Deserialize)]
struct Data {
    result: Option<Items>,
}

/// The `result` array. Elements that are not series objects (a scalar or string answer's
/// `[t, "v"]`) carry no series and are skipped.
struct Items(Vec<QSeries>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of series")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Item>()? {
                    if let Item(Some(s)) = item {
                        out.push(s);
                    }
                }
                Ok(Items(out))
            }
        }
        d.deserialize_seq(Seq)
    }
}

/// One element of `result`: a series, or `None` for anything else.
struct Item(Option<QSeries>);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a series object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut labels: Vec<(String, String)> = Vec::new();
        let mut samples = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metric" => labels = map.next_value::<Labels>()?.0,
                "value" | "histogram" => {
                    let v: Value = map.next_value()?;
                    samples.extend(sample(&v, key == "histogram"));
                }
                "values" | "histograms" => {
                    let vs: Vec<Value> = map.next_value()?;
                    let hist = key == "histograms";
                    samples.extend(vs.iter().filter_map(|v| sample(v, hist)));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Item(Some(QSeries { labels, samples })))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
        Ok(Item(None))
    }
    fn visit_unit<E>(self) -> Result<Item, E> {
        Ok(Item(None))
    }
}

/// A series' `metric` object: its string labels, sorted by name (non-string values are left
/// out, and a repeated name keeps its last value, as a JSON object would).
struct Labels(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Obj;
        impl<'de> Visitor<'de> for Obj {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of labels")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if let Value::String(v) = v {
                        out.retain(|(name, _)| *name != k);
                        out.push((k, v));
                    }
                }
                out.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Labels(out))
            }
            fn visit_unit<E>(self) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
        }
        d.deserialize_any(Obj)
    }
}

/// Decodes the JSON body of `/api/v1/query` or `/api/v1/query_range`; an API error comes back
/// as its message.
pub fn parse_response(body: &str) -> Result<QueryResult, String> {
    let a: Answer = serde_json::from_str(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if a.status.as_deref() != Some("success") {
        return Err(format!(
            "{}: {}",
            a.error_type.as_deref().unwrap_or("error"),
            a.error.as_deref().unwrap_or("no message")
        ));
    }
    let data = a.data.ok_or("answer has no data")?;
    let result = data.result.ok_or("answer has no result")?;
    Ok(QueryResult { series: result.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::prom_query::QValue;

    /// The `Value`-tree decoder this replaces, kept as the reference.
    fn reference(body: &str) -> QueryResult {
        let v: Value = serde_json::from_str(body).expect("json");
        let result = v["data"]["result"].as_array().expect("result");
        let mut out = QueryResult::default();
        for r in result {
            let Some(m) = r.get("metric").and_then(Value::as_object) else {
                continue;
            };
            let labels = m
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect();
            let mut samples = Vec::new();
            samples.extend(r.get("value").and_then(|p| sample(p, false)));
            samples.extend(r.get("histogram").and_then(|p| sample(p, true)));
            for (key, hist) in [("values", false), ("histograms", true)] {
                if let Some(vs) = r.get(key).and_then(Value::as_array) {
                    samples.extend(vs.iter().filter_map(|p| sample(p, hist)));
                }
            }
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            out.series.push(QSeries { labels, samples });
        }
        out
    }

    #[test]
    fn vectors_matrices_and_native_histograms_decode_as_the_value_tree_did() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"job":"a","__name__":"x_total","le":"0.5","bad":3},
           "values":[[2,"5"],[1,"4"]]},
          {"metric":{"__name__":"h"},"histogram":[3.5,{"count":"4","sum":"1.5",
           "buckets":[[0,"0","0.5","3"],[0,"0.5","1","1"]]}]},
          {"value":[1.5,"-2.5"],"metric":{}},
          {"metric":{"__name__":"y"},"value":[1.5,"+Inf"],"extra":{"nested":[1,2]}}
        ]}}"#;
        let got = parse_response(body).expect("parses");
        assert_eq!(got, reference(body));
        assert_eq!(got.series.len(), 4);
        assert_eq!(
            got.series[0].labels,
            vec![
                ("__name__".to_owned(), "x_total".to_owned()),
                ("job".to_owned(), "a".to_owned()),
                ("le".to_owned(), "0.5".to_owned()),
            ]
        );
        assert_eq!(got.series[0].samples[0].0, 1.0);
        assert!(matches!(got.series[1].samples[0].1, QValue::Native(_)));
    }

    #[test]
    fn a_scalar_answer_has_no_series_and_errors_keep_their_messages() {
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"2"]}}"#;
        assert_eq!(parse_response(scalar).expect("parses").series, vec![]);
        let no_data = r#"{"status":"success"}"#;
        assert_eq!(
            parse_response(no_data).expect_err("no data"),
            "answer has no data"
        );
        assert!(
            parse_response("{\"status\":")
                .expect_err("cut")
                .starts_with("answer is not JSON")
        );
    }
}
