//! Every flag is a key of the configuration file and has an environment variable, and the three
//! layer as documented: flags over environment over file over defaults. Generic over the CLI
//! definition (`cli::layers::keyed_args`), so a new flag is covered when it is added.
//!
//! One test only: it sets environment variables, and a test binary runs its tests on threads.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};
use faultline::cli::Cli;
use faultline::cli::layers::{keyed_args, matches_from};

fn is<T: 'static>(arg: &clap::Arg) -> bool {
    arg.get_value_parser().type_id() == std::any::TypeId::of::<T>()
}

/// Three values the flag accepts, as flag text; consecutive ones differ.
fn samples(arg: &clap::Arg) -> [String; 3] {
    let id = arg.get_id().as_str();
    let pv: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|p| p.get_name().to_owned())
        .collect();
    let n = |i: usize| (7 + i).to_string();
    let f = |g: &dyn Fn(usize) -> String| [g(0), g(1), g(2)];
    if !pv.is_empty() {
        [pv[0].clone(), pv[1].clone(), pv[0].clone()]
    } else if id.ends_with("_headers") {
        f(&|i| format!("X-Scope-OrgID: team-{}", n(i)))
    } else if id == "from" || id == "to" {
        f(&|i| format!("+{}s", n(i)))
    } else if id == "prometheus" {
        f(&|i| format!("https://mimir-{}.test/prometheus", n(i)))
    } else if is::<Duration>(arg) {
        f(&|i| format!("{}s", n(i)))
    } else if is::<SocketAddr>(arg) {
        f(&|i| format!("127.0.0.1:{}", n(i)))
    } else if is::<u64>(arg) || is::<usize>(arg) {
        f(&|i| n(i))
    } else if is::<PathBuf>(arg) {
        f(&|i| format!("/etc/faultline/{}", n(i)))
    } else {
        f(&|i| format!("value-{}", n(i)))
    }
}

fn toml_value(arg: &clap::Arg, text: &str) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    if arg.get_id().as_str().ends_with("_headers") {
        let (k, v) = text.split_once(':').unwrap();
        format!("{{ {} = {} }}", q(k.trim()), q(v.trim()))
    } else if is::<u64>(arg) || is::<usize>(arg) {
        text.to_owned()
    } else if matches!(arg.get_action(), ArgAction::Append) {
        format!("[{}]", q(text))
    } else {
        q(text)
    }
}

#[test]
fn every_flag_from_file_env_and_command_line_in_that_order() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary: no other thread reads or writes the environment.
    unsafe {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FAULTLINE_") {
                std::env::remove_var(&k);
            }
        }
        std::env::set_var("XDG_CONFIG_HOME", home.path());
    }
    let file = home.path().join("config.toml");
    let cmd = Cli::command();
    let mut checked = 0;
    for (sub, arg, key) in keyed_args(&cmd) {
        let id = arg.get_id().as_str().to_owned();
        let env = arg
            .get_env()
            .unwrap_or_else(|| panic!("--{id} has no environment variable"))
            .to_owned();
        let bool_flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let [a, b, c] = if bool_flag {
            ["true".to_string(), "false".to_string(), "true".to_string()]
        } else {
            samples(&arg)
        };
        let line = format!(
            "{} = {}",
            key.key,
            if bool_flag {
                a.clone()
            } else {
                toml_value(&arg, &a)
            }
        );
        let text = match &key.section {
            Some(s) => format!("[{s}]\n{line}\n"),
            None => format!("{line}\n"),
        };
        std::fs::write(&file, &text).unwrap();
        let root_arg = cmd.get_arguments().any(|x| x.get_id() == arg.get_id());
        let mut argv: Vec<OsString> =
            vec!["faultline".into(), "--config".into(), file.clone().into()];
        if !root_arg {
            argv.push(sub.clone().into());
            match sub.as_str() {
                "review" | "report" | "alerts" => argv.push("capture.jsonl".into()),
                "compare" => argv.extend([
                    "capture.jsonl".into(),
                    "0af7651916cd43dd8448eb211c80319c".into(),
                    "1bf7651916cd43dd8448eb211c80319c".into(),
                ]),
                "trace" => argv.extend([
                    "capture.jsonl".into(),
                    "0af7651916cd43dd8448eb211c80319c".into(),
                ]),
                "rules" => argv.push("list".into()),
                "record" if id != "out" => argv.extend(["--out".into(), "x.jsonl".into()]),
                // `--duration` requires `--live`, from the environment as from the flag.
                "lint" if id == "duration" => argv.push("--live".into()),
                _ => {}
            }
        }
        let check = |argv: &[OsString], want: &str, source: ValueSource, stage: &str| {
            let (m, _) = matches_from(argv)
                .unwrap_or_else(|e| panic!("{stage} --{id} ({key}): {e}\nfile:\n{text}"));
            let m = if root_arg {
                &m
            } else {
                m.subcommand_matches(&sub).expect("subcommand")
            };
            assert_eq!(
                m.value_source(&id),
                Some(source),
                "{stage}: source of --{id} ({key})"
            );
            let got: Vec<String> = if bool_flag {
                vec![m.get_flag(&id).to_string()]
            } else {
                m.get_raw(&id)
                    .map(|v| v.map(|x| x.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default()
            };
            assert_eq!(got, vec![want.to_owned()], "{stage}: --{id} ({key})");
        };
        check(&argv, &a, ValueSource::DefaultValue, "file");
        // SAFETY: as above.
        unsafe { std::env::set_var(&env, &b) };
        check(&argv, &b, ValueSource::EnvVariable, "env over file");
        let mut with_flag = argv.clone();
        let long = arg.get_long().expect("long flag");
        with_flag.push(
            if bool_flag {
                format!("--{long}")
            } else {
                format!("--{long}={c}")
            }
            .into(),
        );
        check(&with_flag, &c, ValueSource::CommandLine, "flag over env");
        // SAFETY: as above.
        unsafe { std::env::remove_var(&env) };
        checked += 1;
    }
    assert!(checked > 40, "only {checked} flags checked");

    // Relative paths in a file are relative to the file.
    std::fs::write(&file, "[receivers]\ntls_cert_file = \"certs/server.pem\"\n").unwrap();
    let (m, _) = matches_from(&[
        "faultline".into(),
        "--config".into(),
        file.clone().into(),
        "record".into(),
        "--out".into(),
        "x".into(),
    ])
    .unwrap();
    let got: PathBuf = m
        .subcommand_matches("record")
        .unwrap()
        .get_one::<PathBuf>("tls_cert_file")
        .unwrap()
        .clone();
    assert_eq!(got, home.path().join("certs/server.pem"));

    // The XDG path is read when nothing names a file; $FAULTLINE_CONFIG wins over it.
    std::fs::create_dir_all(home.path().join("faultline")).unwrap();
    std::fs::write(
        home.path().join("faultline/config.toml"),
        "[report]\nformat = \"json\"\n",
    )
    .unwrap();
    let report = |extra: &[&str]| {
        let mut argv: Vec<OsString> = vec!["faultline".into()];
        argv.extend(extra.iter().map(OsString::from));
        argv.extend(["report".into(), "c.jsonl".into()]);
        let (m, _) = matches_from(&argv).unwrap();
        m.subcommand_matches("report")
            .unwrap()
            .get_raw("format")
            .unwrap()
            .next()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(report(&[]), "json");
    let other = home.path().join("other.toml");
    std::fs::write(&other, "[report]\nformat = \"text\"\n").unwrap();
    // SAFETY: as above.
    unsafe { std::env::set_var("FAULTLINE_CONFIG", &other) };
    assert_eq!(report(&[]), "text");
    assert_eq!(
        report(&[
            "--config",
            &home.path().join("faultline/config.toml").to_string_lossy()
        ]),
        "json"
    );
}
