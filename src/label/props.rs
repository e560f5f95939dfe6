//! Property tests of the label pipeline (split + substitute + translate + create body), the
//! stand-in for cargo fuzz, which needs a nightly toolchain these machines cannot fetch.
//! `PROPTEST_CASES=200000 cargo test --release --lib label::props` is the long local run.

use proptest::prelude::*;

use super::spec::is_engine_program;
use super::{resolve, Ownership, RunSpec, Vars};
use crate::engine::{create_body, CreateRequest, StreamSetup};

/// 2,000 cases in the suite; `PROPTEST_CASES` for a long run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

fn vars() -> Vars {
    Vars {
        image: "img".into(),
        name: "n".into(),
        opts: [Some("-d".into()), None, Some("x y".into())],
        pwd: Some("/w".into()),
        sudo_uid: Some(1),
        sudo_gid: None,
        home: Some("/h".into()),
    }
}

/// Words that look like the real thing, so the pipeline gets past its first checks.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("docker".to_owned()),
        Just("run".to_owned()),
        Just("IMAGE".to_owned()),
        Just("NAME".to_owned()),
        Just("-it".to_owned()),
        Just("--rm".to_owned()),
        Just("-v".to_owned()),
        Just("/:/host".to_owned()),
        Just("--net=host".to_owned()),
        Just("-e".to_owned()),
        Just("$OPT1".to_owned()),
        Just("${HOME}".to_owned()),
        Just("'a b'".to_owned()),
        Just("\"$NAME\"".to_owned()),
        Just("--mount".to_owned()),
        Just("type=bind,src=/a,dst=/b".to_owned()),
        Just("-p".to_owned()),
        Just("80:80/tcp".to_owned()),
        Just("--restart".to_owned()),
        Just("on-failure:3".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 0..16).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Never a panic, whatever the label; an accepted line starts with an engine word, and
    /// reads back into a spec and a create body or is refused with a typed error.
    #[test]
    fn any_label_is_resolved_or_refused_without_panicking(label in prop_oneof![line(), "\\PC{0,200}"]) {
        if let Ok(resolved) = resolve(&label, &vars(), &["extra arg".to_owned()]) {
            prop_assert_eq!(resolved.argv.last().map(String::as_str), Some("extra arg"));
            if let Ok(spec) = RunSpec::from_argv(&resolved.argv) {
                prop_assert!(is_engine_program(&spec.program));
                prop_assert!(!spec.image.is_empty());
                let owner = Ownership::default();
                let streams = StreamSetup { stdin: true, tty: true };
                let _ = create_body(CreateRequest { spec: &spec, image_id: "sha256:1", owner: &owner, streams });
                let _ = spec.host_privileges();
            }
        }
    }

    /// Shell operators outside quotes are always refused, wherever they sit.
    #[test]
    fn shell_operators_outside_quotes_are_refused(
        before in prop::collection::vec(word(), 0..6),
        op in prop_oneof![Just(";"), Just("&&"), Just("|"), Just("`id`"), Just("$(id)"), Just("\n"), Just(">")],
    ) {
        let clean: Vec<String> = before.into_iter().filter(|w| !w.contains(['\'', '"', '\\'])).collect();
        let label = format!("docker run {} {op} IMAGE", clean.join(" "));
        let refused = matches!(resolve(&label, &vars(), &[]), Err(crate::error::Error::UnsupportedLabel(_)));
        prop_assert!(refused, "accepted: {:?}", label);
    }

    /// Display lines split back into the same argv.
    #[test]
    fn display_lines_round_trip(argv in prop::collection::vec("\\PC{0,10}", 1..8)) {
        let line = crate::text::display_line(&argv);
        prop_assert_eq!(shell_words::split(&line).ok(), Some(argv));
    }
}
