//! The tests of `label/spec`.

use super::*;

fn argv(line: &str) -> Vec<String> {
    shell_words::split(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn spec(line: &str) -> RunSpec {
    RunSpec::from_argv(&argv(line)).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn flag_forms() {
    let s = spec("docker run -it --rm --name=ntp -e A=1 --env B=2 -v/a:/b --net host --cap_add SYS_TIME img sh -c 'echo a b'");
    assert!(s.interactive && s.tty && s.remove);
    assert_eq!(s.name.as_deref(), Some("ntp"));
    assert_eq!(s.env, ["A=1", "B=2"]);
    assert_eq!(s.volumes.iter().map(ToString::to_string).collect::<Vec<_>>(), ["/a:/b"]);
    assert_eq!(s.network.as_deref(), Some("host"));
    assert_eq!(s.cap_add, ["SYS_TIME"]);
    assert_eq!(s.image, "img");
    assert_eq!(s.command, ["sh", "-c", "echo a b"]);
}

#[test]
fn command_flags_after_the_image_belong_to_the_command() {
    let s = spec("/usr/bin/docker run -d img ls -l --all");
    assert!(s.detach);
    assert_eq!(s.program, "/usr/bin/docker");
    assert_eq!(s.command, ["ls", "-l", "--all"]);
}

#[test]
fn switches_take_explicit_booleans() {
    assert!(!spec("docker run --rm=false img").remove);
    assert!(spec("podman run --privileged=true img").privileged);
    assert!(matches!(
        RunSpec::from_argv(&argv("docker run --rm=maybe img")),
        Err(Error::UnsupportedLabel(_))
    ));
}

#[test]
fn refusals_name_the_problem() {
    let table = [
        ("", "empty"),
        ("sh -c 'docker run img'", "must start with docker or podman"),
        ("docker exec img", "only `docker run`"),
        ("docker run --bogus img", "--bogus"),
        ("docker run -X img", "-X"),
        ("docker run --name", "--name needs a value"),
        ("docker run -d", "names no image"),
    ];
    for (line, needle) in table {
        match RunSpec::from_argv(&argv(line)) {
            Err(Error::UnsupportedLabel(msg)) => assert!(msg.contains(needle), "{line}: {msg}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn env_files_come_from_the_caller() {
    let mut s = spec("docker run --env-file /etc/app.env -e LAST=1 img");
    let missing = s.clone().resolve_env_files(&Default::default());
    assert!(
        matches!(missing, Err(Error::EnvFilesNeeded(m, paths)) if m.contains("/etc/app.env") && paths == ["/etc/app.env"])
    );
    let files = std::collections::HashMap::from([(
        "/etc/app.env".to_owned(),
        "# comment\n\nA=1\n  B=two words\nBARE\n".to_owned(),
    )]);
    s.resolve_env_files(&files).unwrap();
    assert_eq!(s.env, ["A=1", "B=two words", "BARE", "LAST=1"]);
    assert!(s.env_files.is_empty());
}

#[test]
fn host_privileges_are_listed() {
    let table: [(&str, usize); 6] = [
        ("docker run --rm img", 0),
        ("docker run -v data:/data -v /anon img", 0),
        ("docker run --privileged img", 1),
        ("docker run --net=host --pid=host --ipc=host img", 3),
        ("docker run -v /:/host --mount type=bind,src=/etc,dst=/e --cap-add SYS_ADMIN img", 3),
        ("docker run --security-opt label=disable --device /dev/fuse img", 2),
    ];
    for (line, count) in table {
        assert_eq!(spec(line).host_privileges().len(), count, "{line}");
    }
}

/// Every flag of the table with a value it is judged on: whether that value keeps the
/// container confined. A flag added to the table without a row here fails this test.
const CLASSIFIED: &[(&str, &str, bool)] = &[
    ("detach", "", true),
    ("interactive", "", true),
    ("tty", "", true),
    ("rm", "", true),
    ("privileged", "", false),
    ("read-only", "", true),
    ("init", "", true),
    ("sig-proxy", "", true),
    ("name", "x", true),
    ("network", "bridge", true),
    ("network", "host", false),
    ("pid", "container:other", false),
    ("ipc", "host", false),
    ("uts", "ns:/proc/self/ns/uts", false),
    ("userns", "host", false),
    ("volume", "data:/d", true),
    ("volume", "/etc:/e", false),
    ("mount", "type=bind,src=/etc,dst=/e", false),
    ("env", "A=1", true),
    ("env-file", "/etc/app.env", true),
    ("cap-add", "NET_ADMIN", false),
    ("cap-drop", "ALL", true),
    ("security-opt", "unmask=ALL", false),
    ("security-opt", "no-new-privileges", true),
    ("device", "/dev/fuse", false),
    ("publish", "8080:80", false),
    ("restart", "always", true),
    ("workdir", "/srv", true),
    ("entrypoint", "/bin/sh", true),
    ("user", "1000", true),
    ("hostname", "box", true),
    ("tmpfs", "/run", true),
    ("label", "a=b", true),
    ("log-driver", "syslog", false),
    ("stop-signal", "SIGINT", true),
    ("group-add", "wheel", true),
];

#[test]
fn every_flag_of_the_table_is_classified_and_judged_as_its_class_says() {
    for f in FLAGS {
        assert!(
            CLASSIFIED.iter().any(|(name, _, _)| *name == f.names[0]),
            "--{} has no row in CLASSIFIED",
            f.names[0]
        );
    }
    for (name, value, confined) in CLASSIFIED {
        let flag = find_long(name).unwrap_or_else(|| panic!("{name} is not in the table"));
        let word =
            if flag.arity == Arity::Switch { format!("--{name}") } else { format!("--{name}={value}") };
        let parsed = spec(&format!("docker run {word} img"));
        assert_eq!(
            parsed.host_privileges().is_empty(),
            *confined,
            "--{name} {value}: {:?}",
            parsed.privileges
        );
    }
}

#[test]
fn the_review_s_escapes_are_privileged_or_refused() {
    let privileged = [
        "docker run --security-opt unmask=ALL img",
        "docker run --pid ns:/proc/self/ns/pid --ipc ns:/proc/self/ns/ipc img",
        "docker run --uts=ns:/proc/self/ns/uts --net ns:/proc/self/ns/net img",
        "docker run --network slirp4netns:allow_host_loopback=true img",
        "docker run --security-opt label=type:spc_t img",
        "docker run --pid=container:root-db img",
        "docker run --privileged=true --privileged=false --privileged img",
    ];
    for line in privileged {
        assert!(!spec(line).host_privileges().is_empty(), "{line}");
    }
    for line in [
        "docker run -v ../../..:/host img",
        "docker run --volume=.:/src img",
        "docker run -l org.atomic.managed=1 img",
    ] {
        assert!(matches!(RunSpec::from_argv(&argv(line)), Err(Error::UnsupportedLabel(_))), "{line}");
    }
    assert!(spec("docker run --privileged --privileged=false img").host_privileges().is_empty());
}
