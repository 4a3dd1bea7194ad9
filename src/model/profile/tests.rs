use super::*;

#[test]
fn every_shipped_profile_loads_and_is_compiled_in() {
    let set = ProfileSet::load(&[]).expect("shipped profiles load");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/profiles");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("assets/profiles")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut built_in: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    built_in.sort();
    assert_eq!(
        on_disk, built_in,
        "every file in assets/profiles must be in BUILTIN"
    );
    for (file, text) in BUILTIN {
        let on_disk = std::fs::read_to_string(dir.join(file)).expect("readable");
        assert_eq!(&on_disk, text);
    }
    for name in [
        "resilience4j",
        "hystrix",
        "envoy",
        "istio",
        "polly",
        "opossum",
        "haproxy",
        "hikaricp",
        "otel-semconv",
        "linkerd",
    ] {
        assert!(
            set.names.iter().any(|n| n == name),
            "missing profile {name}"
        );
    }
}

#[test]
fn otel_and_prometheus_spellings_match_one_entry() {
    let set = ProfileSet::builtin();
    for name in [
        "resilience_polly_strategy_events_total",
        "resilience.polly.strategy.events",
        "circuit",
        "circuit_total",
        "db_client_connection_count",
        "http_client_request_duration_seconds",
    ] {
        assert!(
            !set.lookup(name).is_empty(),
            "{name} should match a profile"
        );
    }
    assert!(set.lookup("process_cpu_seconds_total").is_empty());
}

#[test]
fn specific_entries_win_over_the_generic_fallback() {
    let set = ProfileSet::builtin();
    let m = set.lookup("hystrix_circuit_breaker_open");
    assert_eq!(m.len(), 1);
    assert_eq!(set.names[m[0].profile], "hystrix");
    let m = set.lookup("envoy_cluster_circuit_breakers_high_cx_open");
    assert!(m.iter().all(|m| set.names[m.profile] == "envoy"));
    let m = set.lookup("gobreaker_circuit_breaker_state");
    assert!(!m.is_empty() && m.iter().all(|m| set.names[m.profile] == "generic"));
}

fn load_user(text: &str) -> Result<ProfileSet, ProfileError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mine.toml"), text).expect("write");
    ProfileSet::load(&[dir.path().to_path_buf()])
}

#[test]
fn user_profiles_add_and_replace() {
    let set = load_user(
        "name = \"acme\"\ndependency_labels = [\"upstream\"]\n\
         [[breaker]]\nmetric = \"acme_breaker_state\"\nencoding = \"value_map\"\n\
         values = { \"0\" = \"closed\", \"1\" = \"half_open\", \"2\" = \"open\" }\n",
    )
    .expect("loads");
    assert!(set.names.contains(&"acme".to_owned()));
    assert_eq!(set.lookup("acme_breaker_state").len(), 1);
}

#[test]
fn errors_name_the_file_and_the_field() {
    let e = load_user(
        "name = \"x\"\n[[signal]]\nrole = \"bogus\"\nmetric = \"m\"\ndependency_labels = [\"a\"]\n",
    )
    .expect_err("bad role");
    let msg = e.to_string();
    assert!(
        msg.contains("mine.toml") && msg.contains("signal[0].role"),
        "{msg}"
    );

    let e = load_user("name = \"x\"\n[[breaker]]\nmetric = \"m\"\nencoding = \"one_hot\"\ndependency_labels = [\"a\"]\n[breaker.states]\nopen = \"wide-open\"\n")
        .expect_err("bad state");
    let msg = e.to_string();
    assert!(
        msg.contains("breaker[0].states.open") && msg.contains("wide-open"),
        "{msg}"
    );

    let e = load_user("name = \"x\"\nbreakers = []\n").expect_err("unknown field");
    let msg = e.to_string();
    assert!(
        msg.contains("mine.toml") && msg.contains("breakers"),
        "{msg}"
    );

    let e = load_user("name = \"x\"\n[[signal]]\nrole = \"retry\"\nmetric = \"m\"\n")
        .expect_err("no dep label");
    assert!(e.to_string().contains("signal[0].dependency_labels"), "{e}");
}

#[test]
fn globs() {
    assert!(glob("*circuit", "my_circuit"));
    assert!(glob("*circuit", "circuit"));
    assert!(!glob("*circuit", "circuit_perf"));
    assert!(glob("a*b*c", "aXbYc"));
    assert!(!glob("a*b*c", "acb"));
    assert!(glob("envoy_*_open", "envoy_x_open"));
}

#[test]
fn budget_and_overflow_roles_map_in_the_shipped_profiles() {
    let set = ProfileSet::load(&[]).expect("shipped profiles load");
    let roles = |name: &str| -> Vec<Role> {
        set.lookup(name)
            .iter()
            .filter_map(|m| match m.target {
                Target::Signal(r, _) => Some(r),
                Target::Breaker(..) => None,
            })
            .collect()
    };
    for name in [
        "envoy_cluster_upstream_rq_retry_overflow",
        "outbound_http_route_retry_overflow_total",
    ] {
        assert_eq!(roles(name), vec![Role::RetryOverflow], "{name}");
    }
    assert!(Role::RetryOverflow.is_counter() && Role::Overflow.is_counter());
    // Admission-limit trips stay rejections and are also saturation.
    let r = roles("envoy_cluster_upstream_rq_pending_overflow");
    assert!(
        r.contains(&Role::Rejected) && r.contains(&Role::Overflow),
        "{r:?}"
    );
    for name in [
        "hikaricp_connections_timeout_total",
        "resilience4j_bulkhead_rejected_calls_total",
        "db.client.connection.timeouts",
    ] {
        assert!(roles(name).contains(&Role::Overflow), "{name}");
    }
    // A breaker's own rejections are not saturation.
    assert!(
        !roles("resilience4j_circuitbreaker_not_permitted_calls_total").contains(&Role::Overflow)
    );
}

#[test]
fn cache_counters_map_to_hit_and_miss_roles() {
    let set = ProfileSet::builtin();
    let roles = |name: &str| -> Vec<Role> {
        set.lookup(name)
            .into_iter()
            .filter_map(|m| match m.target {
                Target::Signal(r, _) => Some(r),
                Target::Breaker(..) => None,
            })
            .collect()
    };
    for name in [
        "cache_gets_total",
        "cache.gets",
        "dotnet.cache.requests",
        "memcached_commands_total",
    ] {
        let r = roles(name);
        assert!(
            r.contains(&Role::CacheHit) && r.contains(&Role::CacheMiss),
            "{name}: {r:?}"
        );
    }
    for (name, role) in [
        ("redis_keyspace_hits_total", Role::CacheHit),
        ("redis.keyspace.misses", Role::CacheMiss),
        ("guava_cache_hit_total", Role::CacheHit),
        ("caffeine_cache_miss_total", Role::CacheMiss),
    ] {
        assert_eq!(roles(name), vec![role], "{name}");
    }
    assert!(Role::CacheHit.is_counter() && Role::CacheMiss.is_counter());
}
