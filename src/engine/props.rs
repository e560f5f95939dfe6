//! Property tests of the label pipeline (split + substitute + translate + create body: the label
//! core and the engine's body together, so they live here, above both), the
//! stand-in for cargo fuzz, which needs a nightly toolchain these machines cannot fetch.
//! `PROPTEST_CASES=200000 cargo test --release --lib engine::props` is the long local run.

use proptest::prelude::*;

use super::{create_body, CreateRequest, StreamSetup};
use crate::label::{is_engine_program, resolve, Ownership, RunSpec, Vars};

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
        run_opts: None,
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

/// One field of a `--mount` value, including the spellings and repeats an attacker would try.
fn mount_field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("type=bind"),
        Just("type=volume"),
        Just("type=tmpfs"),
        Just("Type=bind"),
        Just("source=/"),
        Just("src=/etc"),
        Just("source=data"),
        Just("src=rel"),
        Just("source="),
        Just("target=/host"),
        Just("dst=/d"),
        Just("destination=/x"),
        Just("ro"),
        Just("readonly=false"),
        Just("volume-opt=o=bind"),
        Just("bind-propagation=rshared"),
    ]
    .prop_map(str::to_owned)
}

/// One structured flag with its value.
fn structured_flag() -> impl Strategy<Value = String> {
    let path =
        prop_oneof![Just("/"), Just("/etc"), Just("data"), Just("rel"), Just("."), Just(""), Just("/h")];
    let opts =
        prop_oneof![Just(""), Just(":ro"), Just(":rw,Z"), Just(":volume-opt=x"), Just(":/x"), Just(":ro:z")];
    prop_oneof![
        prop::collection::vec(mount_field(), 1..6).prop_map(|f| format!("--mount={}", f.join(","))),
        (path.clone(), prop_oneof![Just(":/t"), Just(""), Just(":t")], opts)
            .prop_map(|(s, t, o)| format!("--volume={s}{t}{o}")),
        Just("--device=/dev/fuse".to_owned()),
        Just("--publish=8080:80".to_owned()),
        Just("--tmpfs=/run:size=1m".to_owned()),
        Just("--privileged=false".to_owned()),
        Just("--net=bridge".to_owned()),
    ]
}

/// The host paths a create body mounts, read from the engine's own fields: a bind source that
/// is absolute, and every mount of type bind.
fn created_host_paths(host: &bollard::models::HostConfig) -> Vec<String> {
    let mut paths: Vec<String> = host
        .binds
        .iter()
        .flatten()
        .filter_map(|b| b.split(':').next().filter(|s| s.starts_with('/')).map(str::to_owned))
        .collect();
    for m in host.mounts.iter().flatten() {
        if m.typ == Some(bollard::models::MountType::BIND) {
            paths.push(m.source.clone().unwrap_or_default());
        }
    }
    paths.sort();
    paths
}

/// The host paths the judge said the line mounts.
fn judged_host_paths(spec: &RunSpec) -> Vec<String> {
    let mut paths: Vec<String> = spec
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            crate::label::VolumeSource::Host(s) => Some(s.clone()),
            _ => None,
        })
        .chain(
            spec.mounts
                .iter()
                .filter(|m| m.kind == crate::label::MountKind::Bind)
                .filter_map(|m| m.source.clone()),
        )
        .collect();
    paths.sort();
    paths
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// What is judged is what is created: for any mix of structured flags, the host paths the
    /// judge saw are exactly those the engine's create body mounts, a line judged confined
    /// creates nothing that reaches the host, and the body read back (as an existing container
    /// is judged) is judged the same. A value the judge and the engine could read two ways is
    /// refused instead.
    #[test]
    fn what_is_judged_is_what_is_created(flags in prop::collection::vec(structured_flag(), 1..5)) {
        let mut argv: Vec<String> = vec!["docker".into(), "run".into()];
        argv.extend(flags);
        argv.push("img".into());
        let Ok(spec) = RunSpec::from_argv(&argv) else { return Ok(()) };
        let owner = Ownership::default();
        let body = create_body(CreateRequest { spec: &spec, image_id: "sha256:1", owner: &owner, streams: StreamSetup::default() });
        let host = body.host_config.unwrap_or_default();
        let created = created_host_paths(&host);
        prop_assert_eq!(&judged_host_paths(&spec), &created, "{:?}", argv);
        if spec.host_privileges().is_empty() {
            prop_assert!(created.is_empty(), "judged confined, creates host mounts: {:?}", argv);
            prop_assert!(host.privileged != Some(true) && host.devices.is_none() && host.port_bindings.is_none());
        }
        let mut back: Vec<String> = vec!["docker".into(), "run".into()];
        back.extend(super::host_flags(&host));
        back.push("img".into());
        let reread = RunSpec::from_argv(&back);
        prop_assert!(reread.is_ok(), "the created configuration cannot be judged: {:?} from {:?}", back, argv);
        let reread = reread.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reread.host_privileges().is_empty(), spec.host_privileges().is_empty(), "{:?}", argv);
        prop_assert_eq!(judged_host_paths(&reread), created, "{:?}", argv);
    }

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
