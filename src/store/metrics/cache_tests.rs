//! Cache hit/miss counters through the real exposition parser and the shipped `caches` profile:
//! increases over the window, per cache, in the spellings of several libraries.

use super::tests::{S, scrape, view};
use super::*;
use crate::ingest::decode_metrics::decode_metrics;
use crate::ingest::prom_otlp::{families_to_metrics, request};
use crate::ingest::prom_text::{Format, parse};

#[test]
fn micrometer_cache_gets_count_hits_and_misses_per_cache() {
    let mut m = MetricStore::new(ProfileSet::builtin());
    let text = |h: u32, mi: u32, other: u32| {
        format!(
            "# TYPE cache_gets_total counter\n\
             cache_gets_total{{cache=\"users\",cacheManager=\"cm\",name=\"users\",result=\"hit\"}} {h}\n\
             cache_gets_total{{cache=\"users\",cacheManager=\"cm\",name=\"users\",result=\"miss\"}} {mi}\n\
             cache_gets_total{{cache=\"prices\",cacheManager=\"cm\",name=\"prices\",result=\"hit\"}} {other}\n\
             cache_gets_total{{cache=\"prices\",cacheManager=\"cm\",name=\"prices\",result=\"miss\"}} 0\n"
        )
    };
    scrape(&mut m, "shop", 0, &text(100, 50, 7));
    scrape(&mut m, "shop", 10, &text(130, 60, 7));
    scrape(&mut m, "shop", 20, &text(190, 80, 9));
    let v = view(&mut m, "shop", "users");
    assert_eq!((v.cache_hits, v.cache_misses), (Some(90.0), Some(30.0)));
    let p = view(&mut m, "shop", "prices");
    assert_eq!((p.cache_hits, p.cache_misses), (Some(2.0), Some(0.0)));
}

#[test]
fn redis_exporter_and_caffeine_collector_names_map() {
    let mut m = MetricStore::new(ProfileSet::builtin());
    let text = |h: u32, mi: u32| {
        format!(
            "# TYPE redis_keyspace_hits_total counter\n\
             redis_keyspace_hits_total{{addr=\"redis://10.0.0.5:6379\"}} {h}\n\
             # TYPE redis_keyspace_misses_total counter\n\
             redis_keyspace_misses_total{{addr=\"redis://10.0.0.5:6379\"}} {mi}\n\
             # TYPE caffeine_cache_hit_total counter\n\
             caffeine_cache_hit_total{{cache=\"sessions\"}} {h}\n\
             # TYPE caffeine_cache_miss_total counter\n\
             caffeine_cache_miss_total{{cache=\"sessions\"}} {mi}\n"
        )
    };
    scrape(&mut m, "redis", 0, &text(1000, 10));
    scrape(&mut m, "redis", 15, &text(1004, 40));
    let v = view(&mut m, "redis", "redis://10.0.0.5:6379");
    assert_eq!((v.cache_hits, v.cache_misses), (Some(4.0), Some(30.0)));
    let c = view(&mut m, "redis", "sessions");
    assert_eq!((c.cache_hits, c.cache_misses), (Some(4.0), Some(30.0)));
}

#[test]
fn one_sample_is_no_increase() {
    let mut m = MetricStore::new(ProfileSet::builtin());
    scrape(
        &mut m,
        "shop",
        0,
        "# TYPE cache_gets_total counter\ncache_gets_total{cache=\"users\",result=\"hit\"} 5\n",
    );
    let views = m.views((0, m.range.1 + 1));
    let v = views.values().next().expect("a view");
    assert_eq!(v.cache_hits, None);
}

/// `checkout` reads Redis at `cache:6379` (the attributes `addr` gives: either convention), and
/// redis_exporter's series name the instance `label`: one row, the cache's counters on it.
fn traced_redis_with_exporter(
    addr: &[(&str, &str)],
    label: &str,
) -> Option<crate::model::cache::CacheStats> {
    use crate::model::span::SpanKind;
    use crate::store::{Store, StoreConfig};
    use crate::testkit::{MS, T0, span};
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let spans = (0..20u64)
        .map(|i| {
            let mut b = span(
                i + 1,
                1,
                0,
                "checkout",
                "GET",
                SpanKind::Client,
                T0 + i * 100 * MS,
                MS,
            )
            .attr("db.system", "redis");
            for (k, v) in addr {
                b = b.attr(k, v);
            }
            b.build()
        })
        .collect();
    store.apply(spans, T0);
    store.flush_pending();
    let text = |h: u32, mi: u32| {
        format!(
            "# TYPE redis_keyspace_hits_total counter\n\
             redis_keyspace_hits_total{{addr=\"{label}\"}} {h}\n\
             # TYPE redis_keyspace_misses_total counter\n\
             redis_keyspace_misses_total{{addr=\"{label}\"}} {mi}\n"
        )
    };
    for (t, (h, mi)) in [(0u64, (100, 50)), (1, (190, 60))] {
        let body = text(h, mi);
        let fams = parse(&body, Format::Prometheus004).expect("valid exposition");
        let t_ns = T0 + t * S;
        let req = request("redis", "127.0.0.1:9121", families_to_metrics(&fams, t_ns));
        store.apply_metrics(decode_metrics(&req, t_ns));
    }
    let snap = store.snapshot_window(T0, T0 + 10 * S);
    let deps: Vec<String> = snap
        .deps
        .iter()
        .map(|d| format!("{} → {}", d.key.caller, d.key.dependency))
        .collect();
    assert_eq!(deps, ["checkout → redis cache"], "one row");
    snap.dep("checkout", "redis cache").and_then(|d| d.cache)
}

#[test]
fn redis_exporter_instance_joins_the_traced_redis_by_its_address() {
    use crate::model::cache::CacheSource;
    let new = [("server.address", "cache"), ("server.port", "6379")];
    let old = [("net.peer.name", "cache"), ("net.peer.port", "6379")];
    for (attrs, label) in [
        (&new[..], "redis://cache:6379"),
        (&old[..], "redis://cache:6379"),
        (&new[..], "cache:6379"),
        (&old[..], "CACHE:6379"),
    ] {
        let c = traced_redis_with_exporter(attrs, label)
            .unwrap_or_else(|| panic!("no cache figures for {label}"));
        assert_eq!(
            (c.hits, c.misses, c.source),
            (90.0, 10.0, CacheSource::Metric),
            "{label}"
        );
    }
}
