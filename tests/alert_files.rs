//! Alert rule files: the shipped `rules/alerts.toml` loads (from `rules/` and the embedded copy,
//! the same set) with one rule per alert kind the issue asks for, lint and alert tables share a
//! rules directory, and every invalid fixture in tests/fixtures/alerts/ gives exactly the errors
//! in its `# expect:` lines — one per problem, naming the file, the alert and the field.

use std::path::Path;

use faultline::alerts::compile::{compile_sources, load_dir};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_shipped_alert_rules_load() {
    let set = load_dir(&root().join("rules")).unwrap_or_else(|e| {
        panic!(
            "shipped alert rules do not load:\n{}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let names: Vec<&str> = set.rules.iter().map(|r| r.name()).collect();
    for want in [
        "DependencyErrorSpike",
        "DependencyLatencyDegraded",
        "DependencyQueueSaturated",
        "DependencyPoolSaturated",
        "DependencyAtCapacity",
        "DependencyCallsRefused",
        "DependencyHostsEjected",
        "DependencyBreakerOpen",
        "DependencySilent",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let builtin = faultline::alerts::builtin().unwrap_or_else(|e| panic!("{e:?}"));
    let b: Vec<&str> = builtin.rules.iter().map(|r| r.name()).collect();
    assert_eq!(names, b, "rules/ and the embedded copy differ");
    // The lint reads the same directory and skips the [[alert]] tables.
    let lint =
        faultline::rules::load_dir(&root().join("rules")).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!lint.rules.is_empty());
}

#[test]
fn a_file_may_hold_lint_rules_and_alerts() {
    let text = r#"
[[rule]]
id = "X-1"
detector = "missing-timeout"
severity = "warning"
remediation = "r"

[[alert]]
name = "A"
expr = "calls > 1"
[alert.labels]
severity = "warning"
"#;
    let src = [("both.toml".to_string(), text.to_string())];
    let alerts = compile_sources(&src, "t").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(alerts.rules.len(), 1);
    let lint =
        faultline::rules::compile::compile_sources(&src, "t").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(lint.rules.len(), 1);
}

#[test]
fn invalid_fixtures_give_their_exact_errors() {
    let dir = root().join("tests/fixtures/alerts");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    let mut wrong = Vec::new();
    for path in &entries {
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
        let got = match compile_sources(&[(name.clone(), text.clone())], "fixtures") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|x| x.to_string()).collect(),
        };
        if want.is_empty() || got != want {
            wrong.push(format!("{name}:\n  got:  {got:#?}\n  want: {want:#?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "fixtures with other errors than expected:\n{}",
        wrong.join("\n")
    );
    assert!(entries.len() >= 6, "only {} fixtures", entries.len());
}
