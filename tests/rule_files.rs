//! Rule files: every shipped file loads (from `rules/` and the embedded copy, which must be the
//! same set), and every invalid fixture in tests/fixtures/rules/ gives exactly the errors listed
//! in its `# expect:` header lines.

use std::path::Path;

use faultline::rules::compile::{BUILTIN, compile_sources, load_dir};

#[test]
fn every_shipped_rule_file_loads() {
    let set = load_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules")
            .as_path(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "shipped rules do not load:\n{}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(set.rules.len() >= 14, "{} rules", set.rules.len());
    let builtin = faultline::rules::builtin().unwrap_or_else(|e| panic!("{e:?}"));
    let ids = |s: &faultline::rules::RuleSet| {
        s.rules
            .iter()
            .map(|r| r.spec.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&set), ids(&builtin));
    for id in ["CACHE-001", "CACHE-002"] {
        assert!(ids(&set).iter().any(|i| i == id), "rules/cache.toml: {id}");
    }
    // Every file in rules/ is embedded.
    let mut files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
            .expect("rules/")
            .filter_map(|e| {
                e.ok()
                    .map(|e| format!("rules/{}", e.file_name().to_string_lossy()))
            })
            .filter(|f| f.ends_with(".toml"))
            .collect();
    files.sort();
    // Lint rule files in rules::compile::BUILTIN, alert rule files in alerts::compile::BUILTIN.
    let mut embedded: Vec<String> = BUILTIN
        .iter()
        .chain(faultline::alerts::compile::BUILTIN)
        .map(|(n, _)| n.to_string())
        .collect();
    embedded.sort();
    assert_eq!(
        files, embedded,
        "every rules/*.toml must be listed in rules::compile::BUILTIN or alerts::compile::BUILTIN"
    );
    // Every detector is used by some shipped rule, except the user-configured ones.
    for d in faultline::rules::detectors::DETECTORS {
        if ["policy", "threshold"].contains(&d.name) {
            continue;
        }
        assert!(
            set.rules.iter().any(|r| r.def.name == d.name),
            "no shipped rule uses {}",
            d.name
        );
    }
}

#[test]
fn invalid_fixtures_give_their_exact_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut n = 0;
    let mut wrong = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
    {
        let text = std::fs::read_to_string(path).expect("read");
        let name = format!(
            "fixtures/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let want: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(|l| l.replace("{file}", &name))
            .collect();
        assert!(!want.is_empty(), "{name} has no `# expect:` line");
        let got = match compile_sources(&[(name.clone(), text.clone())], "fixtures") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|x| x.to_string()).collect(),
        };
        if got != want {
            wrong.push(format!("{name}:\n  got:  {got:?}\n  want: {want:?}"));
        }
        n += 1;
    }
    assert!(
        wrong.is_empty(),
        "fixtures with other errors than expected:\n{}",
        wrong.join("\n")
    );
    assert!(n >= 10, "only {n} fixtures");
}

#[test]
fn audit_rules_load_with_their_detectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/audits.toml");
    let text = std::fs::read_to_string(&path).expect("rules/audits.toml");
    let set = compile_sources(&[("rules/audits.toml".to_string(), text)], "rules")
        .unwrap_or_else(|e| panic!("rules/audits.toml does not load: {e:?}"));
    // The set is ordered by rule id.
    let got: Vec<(String, &str)> = set
        .rules
        .iter()
        .map(|r| (r.spec.id.clone(), r.def.name))
        .collect();
    assert_eq!(
        got,
        [
            ("ARC-001".to_string(), "lockstep-services"),
            ("BLK-002".to_string(), "missing-bulkhead"),
            ("CTX-001".to_string(), "broken-propagation"),
            ("DEP-001".to_string(), "no-fallback"),
        ]
    );
}
