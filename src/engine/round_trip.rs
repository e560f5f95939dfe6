//! The privilege round trip, tied to the flag table: for every flag whose value may reach the
//! host, a container created from it reads back (`host_flags`, as an existing container is
//! judged on exec, start and stop) with the same privileges. A flag the create body writes but
//! `host_flags` forgets would make such a container be judged confined; this finds it.

use super::{create_body, host_flags, CreateRequest, StreamSetup};
use crate::label::{flags_that_may_reach_the_host, Ownership, RunSpec};

/// For each flag of the table that may reach the host: a value that does, or `None` when no
/// value of that flag ever does (it is parsed for another reason, and this says so).
const SAMPLES: &[(&str, Option<&str>)] = &[
    ("privileged", Some("")),
    ("network", Some("host")),
    ("pid", Some("host")),
    ("ipc", Some("host")),
    ("uts", Some("host")),
    ("userns", Some("host")),
    ("volume", Some("/etc:/host-etc:ro")),
    ("mount", Some("type=bind,source=/var/log,target=/logs")),
    ("cap-add", Some("SYS_ADMIN")),
    ("security-opt", Some("seccomp=unconfined")),
    ("device", Some("/dev/kvm")),
    ("publish", Some("8080:80")),
    ("log-driver", Some("syslog")),
    // Parsed for their structure (a restart policy, a tmpfs, the owner labels' prefix).
    ("restart", None),
    ("tmpfs", None),
    ("label", None),
];

/// A harmless value for the flags that never reach the host.
fn confined_value(flag: &str) -> &'static str {
    match flag {
        "restart" => "on-failure:3",
        "tmpfs" => "/run:size=64m",
        "label" => "app=web",
        _ => "",
    }
}

fn judged(argv: &[String]) -> Vec<String> {
    let spec = RunSpec::from_argv(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    spec.host_privileges().to_vec()
}

fn line(flags: &[String]) -> Vec<String> {
    let mut argv = vec!["docker".to_owned(), "run".to_owned()];
    argv.extend(flags.iter().cloned());
    argv.push("img".to_owned());
    argv
}

#[test]
fn every_flag_that_may_reach_the_host_has_a_sample() {
    let table = flags_that_may_reach_the_host();
    let sampled: Vec<&str> = SAMPLES.iter().map(|(f, _)| *f).collect();
    for flag in &table {
        assert!(sampled.contains(flag), "--{flag} may reach the host: give it a sample here");
    }
    for flag in &sampled {
        assert!(table.contains(flag), "--{flag} is not a flag of the table that may reach the host");
    }
}

#[test]
fn a_created_container_reads_back_with_the_privileges_its_line_was_judged_with() {
    let owner = Ownership::default();
    for (flag, value) in SAMPLES {
        let word = match value {
            Some("") => format!("--{flag}"),
            Some(v) => format!("--{flag}={v}"),
            None => format!("--{flag}={}", confined_value(flag)),
        };
        let argv = line(std::slice::from_ref(&word));
        let privileges = judged(&argv);
        assert_eq!(privileges.is_empty(), value.is_none(), "{word}: judged {privileges:?}");
        let spec = RunSpec::from_argv(&argv).unwrap();
        let request = CreateRequest {
            spec: &spec,
            image_id: "sha256:1",
            owner: &owner,
            streams: StreamSetup::default(),
        };
        let host = create_body(request).host_config.unwrap_or_default();
        let back = line(&host_flags(&host));
        assert_eq!(judged(&back), privileges, "{word} was created as {back:?}");
    }
}

/// A flag given twice, or under its other spelling, reaches the engine once, with its last
/// value; the judge read every value, so the container never does more than was judged (a
/// host value taken back by a later one is still judged: stricter, never looser).
#[test]
fn a_repeated_or_respelled_flag_creates_its_last_value_and_nothing_unjudged() {
    let owner = Ownership::default();
    let cases: [(&[&str], &str); 4] = [
        (&["--net=bridge", "--network=host"], "host"),
        (&["--network=host", "--net=bridge"], "bridge"),
        (&["--log-driver=json-file", "--log-driver=syslog"], "syslog"),
        (&["--pid=private", "--pid=host"], "host"),
    ];
    for (flags, created_value) in cases {
        let words: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        let argv = line(&words);
        let privileges = judged(&argv);
        let spec = RunSpec::from_argv(&argv).unwrap();
        let request = CreateRequest {
            spec: &spec,
            image_id: "sha256:1",
            owner: &owner,
            streams: StreamSetup::default(),
        };
        let host = create_body(request).host_config.unwrap_or_default();
        let sent = [&host.network_mode, &host.pid_mode]
            .into_iter()
            .flatten()
            .cloned()
            .chain(host.log_config.as_ref().and_then(|l| l.typ.clone()))
            .collect::<Vec<_>>();
        assert!(sent.iter().any(|v| v == created_value), "{flags:?} created {sent:?}");
        let read_back = judged(&line(&host_flags(&host)));
        for privilege in &read_back {
            assert!(privileges.contains(privilege), "{flags:?}: {privilege:?} was created but not judged");
        }
        assert!(!privileges.is_empty(), "{flags:?}: a host value was on the line");
    }
}
