//! Substitution: the variables, `${RUN_OPTS}`, the refusals and the original tools' own displays.

use super::*;

fn vars() -> Vars {
    Vars {
        image: "atomic-test-1".into(),
        name: "TEST1".into(),
        opts: [Some("-d".into()), None, Some("--x=1".into())],
        pwd: Some("/home/u/src".into()),
        sudo_uid: Some(1000),
        sudo_gid: Some(100),
        home: Some("/home/u".into()),
        run_opts: None,
    }
}

fn line(label: &str, extra: &[&str]) -> Result<Resolved> {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    resolve(label, &vars(), &extra)
}

/// A hostile label is bounded and linear: 90,000 unset `$Vn` words are refused by their count
/// at once, and the largest label atomicd reads, all distinct variables, resolves in
/// linear time (a quadratic warning list took a minute for this).
#[test]
fn hostile_labels_are_bounded_and_linear() {
    let huge: String = std::iter::once("docker run IMAGE".to_owned())
        .chain((0..90_000).map(|n| format!(" $V{n}")))
        .collect();
    for label in [huge.clone(), format!("docker run {} IMAGE", "x".repeat(MAX_LABEL_BYTES))] {
        match resolve(&label, &vars(), &[]) {
            Err(Error::UnsupportedLabel(m)) => assert!(m.contains("over the"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let words: String = (0..MAX_LABEL_WORDS - 3).map(|n| format!(" $V{n}")).collect();
    let widest = format!("docker run IMAGE{words}");
    assert!(widest.len() <= MAX_LABEL_BYTES);
    let r = resolve(&widest, &vars(), &[]).unwrap();
    assert_eq!(r.warnings.len(), MAX_LABEL_WORDS - 3, "each unset variable said once");
    let repeated = format!("docker run IMAGE{}", " $UNSET".repeat(1000));
    assert_eq!(resolve(&repeated, &vars(), &[]).map(|r| r.warnings.len()).ok(), Some(1));
    // A caller's option repeated cannot multiply past the bound.
    let big = Vars { opts: [Some("y".repeat(60 * 1024)), None, None], ..vars() };
    let times = format!("docker run IMAGE {}", "$OPT1 ".repeat(8));
    assert!(
        matches!(resolve(&times, &big, &[]), Err(Error::UnsupportedLabel(m)) if m.contains("substitutes"))
    );
}

#[test]
fn substitution_table() {
    let table: &[(&str, &[&str], &str)] = &[
        ("docker run IMAGE", &[], "docker run atomic-test-1"),
        (
            "docker run --name NAME -e NAME=NAME -e IMAGE=IMAGE IMAGE",
            &[],
            "docker run --name TEST1 -e NAME=TEST1 -e IMAGE=atomic-test-1 atomic-test-1",
        ),
        (
            "docker run -v ${PWD}:/src -v $HOME/.cfg:/cfg IMAGE",
            &[],
            "docker run -v /home/u/src:/src -v /home/u/.cfg:/cfg atomic-test-1",
        ),
        (
            "docker run -e U=$SUDO_UID -e G=${SUDO_GID} IMAGE",
            &[],
            "docker run -e U=1000 -e G=100 atomic-test-1",
        ),
        ("docker run $OPT1 IMAGE $OPT3", &[], "docker run -d atomic-test-1 --x=1"),
        ("docker run IMAGE sh -c 'echo a b'", &[], "docker run atomic-test-1 sh -c 'echo a b'"),
        ("docker run IMAGE sh -c \"echo $NAME\"", &[], "docker run atomic-test-1 sh -c 'echo TEST1'"),
        ("docker run IMAGE sh -c 'echo $$ $1 $'", &[], "docker run atomic-test-1 sh -c 'echo $$ $1 $'"),
        ("docker run -v /var/lib/NAME:/data IMAGE", &[], "docker run -v /var/lib/NAME:/data atomic-test-1"),
        ("docker run IMAGE echo", &["a b", "c"], "docker run atomic-test-1 echo 'a b' c"),
        ("docker run IMAGE echo", &["$NAME"], "docker run atomic-test-1 echo '$NAME'"),
    ];
    for (label, extra, want) in table {
        let got = line(label, extra).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(crate::text::display_line(&got.argv), *want, "{label}");
        assert!(got.warnings.is_empty(), "{label}: {:?}", got.warnings);
    }
}

#[test]
fn unknown_variables_become_empty_with_one_warning_each() {
    let got = line("docker run -e A=$UNDEF/x -e B=${UNDEF} $OPT2 IMAGE", &[]).unwrap();
    assert_eq!(got.argv, ["docker", "run", "-e", "A=/x", "-e", "B=", "atomic-test-1"]);
    assert_eq!(
        got.warnings,
        ["$UNDEF is not set and expanded to nothing", "$OPT2 is not set and expanded to nothing"]
    );
}

/// `${RUN_OPTS}` becomes the caller's words, each a word of the line as if the label had
/// it (a space inside one stays inside it); unset, it is nothing with a warning; inside a
/// larger word it is refused, since several words cannot stand in one.
#[test]
fn run_opts_stand_for_words_of_their_own() {
    let with = Vars {
        run_opts: Some(vec!["--hostname=www.example.test".into(), "-e".into(), "A=b c".into()]),
        ..vars()
    };
    let got = resolve("docker run --rm ${RUN_OPTS} IMAGE $RUN_OPTS", &with, &[]).unwrap();
    assert_eq!(
        got.argv,
        [
            "docker",
            "run",
            "--rm",
            "--hostname=www.example.test",
            "-e",
            "A=b c",
            "atomic-test-1",
            "--hostname=www.example.test",
            "-e",
            "A=b c"
        ]
    );
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);

    let got = line("docker run ${RUN_OPTS} IMAGE", &[]).unwrap();
    assert_eq!(got.argv, ["docker", "run", "atomic-test-1"]);
    assert_eq!(got.warnings, ["$RUN_OPTS is not set and expanded to nothing"]);

    for inside in ["docker run -e X=${RUN_OPTS} IMAGE", "docker run $RUN_OPTS/x IMAGE"] {
        let err = resolve(inside, &with, &[]).unwrap_err();
        assert!(matches!(err, Error::UnsupportedLabel(_)), "{inside}: {err}");
    }
    assert!(!mentions_run_opts("docker run -e $RUN_OPTSX IMAGE"));
    assert!(mentions_run_opts("docker run $RUN_OPTS IMAGE"));
}

#[test]
fn shell_syntax_is_refused() {
    let table = [
        ("docker run IMAGE; rm -rf /", "';'"),
        ("docker run IMAGE && reboot", "'&'"),
        ("docker run IMAGE | tee x", "pipe"),
        ("docker run IMAGE > /etc/passwd", "redirection"),
        ("docker run `id` IMAGE", "backtick"),
        ("docker run $(id) IMAGE", "$("),
        ("docker run IMAGE sh -c \"$(id)\"", "$("),
        ("docker run IMAGE\nreboot", "several lines"),
        ("docker run IMAGE 'unbalanced", "unbalanced"),
    ];
    for (label, needle) in table {
        match line(label, &[]) {
            Err(Error::UnsupportedLabel(msg)) => {
                assert!(msg.contains(needle), "{label}: {msg}")
            }
            other => panic!("{label}: {other:?}"),
        }
    }
    // Inside single quotes the same characters are the container's business.
    let ok = line("docker run IMAGE sh -c 'a; b && c | d > e $(f) `g`'", &[]).unwrap();
    assert_eq!(ok.argv.last().map(String::as_str), Some("a; b && c | d > e $(f) `g`"));
}

/// The original tool's display test (tests/integration/test_display.sh, LABELS.md): same
/// line, except that undefined $OPT2 is reported instead of silently dropped.
#[test]
fn golden_original_atomic_display() {
    let label = "/usr/bin/docker run -t ${OPT1} -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} $OPT3 echo I am the run label.";
    let v = Vars { image: "atomic-test-1".into(), name: "TEST1".into(), ..Vars::default() };
    let got = resolve(label, &v, &[]).unwrap();
    assert_eq!(
        crate::text::display_line(&got.argv),
        "/usr/bin/docker run -t -v /var/log/TEST1:/var/log -v /var/lib/TEST1:/var/lib --name TEST1 atomic-test-1 echo I am the run label."
    );
    assert_eq!(got.warnings.len(), 3);
}

/// podman's runlabel system test (test/system/037-runlabel.bats): same lines, with our
/// documented differences: IMAGE is the caller's spelling (podman writes
/// `localhost/runlabel_image:latest`), the program word stays as written, and unset
/// $OPT1/$OPT2 are reported as warnings.
#[test]
fn golden_podman_runlabel_display() {
    let label = "podman  run  -t  -i  --rm  ${OPT1}  --privileged  -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=$HOME -e NAME=${NAME} -e IMAGE=${IMAGE} -e CONFDIR=/etc/${NAME} -e LOGDIR=/var/log/${NAME} -e DATADIR=/var/lib/${NAME} ${IMAGE} ${OPT2} /bin/install.sh ${OPT3}";
    let full = Vars {
        image: "runlabel_image".into(),
        name: "test1".into(),
        opts: [Some("r1".into()), Some("r2".into()), Some("r3".into())],
        home: Some("/root".into()),
        ..Vars::default()
    };
    let got = resolve(label, &full, &[]).unwrap();
    assert_eq!(
        crate::text::display_line(&got.argv),
        "podman run -t -i --rm r1 --privileged -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=/root -e NAME=test1 -e IMAGE=runlabel_image -e CONFDIR=/etc/test1 -e LOGDIR=/var/log/test1 -e DATADIR=/var/lib/test1 runlabel_image r2 /bin/install.sh r3"
    );
    assert!(got.warnings.is_empty());
    // With a flag in OPT1 (the test's random words would stand where the image is read),
    // the line translates: image, then the command.
    let flagged =
        Vars { opts: [Some("--init".into()), Some("r2".into()), Some("r3".into())], ..full.clone() };
    let argv = resolve(label, &flagged, &[]).unwrap().argv;
    let spec = crate::label::RunSpec::from_argv(&argv).unwrap();
    assert!(spec.init && spec.privileged);
    assert_eq!(spec.image, "runlabel_image");
    assert_eq!(spec.command, ["r2", "/bin/install.sh", "r3"]);

    let bare = Vars {
        image: "runlabel_image".into(),
        name: "runlabel_image".into(),
        opts: [None, None, Some("r3".into())],
        home: Some("/root".into()),
        ..Vars::default()
    };
    let got = resolve(label, &bare, &[]).unwrap();
    assert_eq!(
        crate::text::display_line(&got.argv),
        "podman run -t -i --rm --privileged -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=/root -e NAME=runlabel_image -e IMAGE=runlabel_image -e CONFDIR=/etc/runlabel_image -e LOGDIR=/var/log/runlabel_image -e DATADIR=/var/lib/runlabel_image runlabel_image /bin/install.sh r3"
    );
    assert_eq!(got.warnings.len(), 2);
}
