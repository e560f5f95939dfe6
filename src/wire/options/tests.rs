//! The tests of `wire/options`.

use super::*;

fn dict<'a>(pairs: Vec<(&'static str, Value<'a>)>) -> zvariant::Dict<'a, 'a> {
    zvariant::Dict::from(pairs.into_iter().collect::<HashMap<_, _>>())
}

#[test]
fn known_keys_of_the_right_type_pass() {
    let d = dict(vec![
        ("spc", Value::Bool(true)),
        ("name", Value::from("x")),
        ("tty-size", Value::from((24u16, 80u16))),
        ("env-files", Value::from(HashMap::from([("/a".to_owned(), "X=1".to_owned())]))),
    ]);
    check::<RunOptions>(&d).unwrap();
}

/// Sizes are checked before anything is decoded: env files over 1 MiB in all, or any other
/// option over 64 KiB, are InvalidArgument naming the key.
#[test]
fn oversized_options_are_refused_before_they_are_decoded() {
    let files = |n: usize, each: usize| {
        (0..n).map(|i| (format!("/e{i}"), "A".repeat(each))).collect::<HashMap<String, String>>()
    };
    let ok = dict(vec![("env-files", Value::from(files(4, 200 * 1024)))]);
    check::<RunOptions>(&ok).unwrap();
    let table: Vec<(Vec<(&'static str, Value<'static>)>, &str)> = vec![
        (vec![("env-files", Value::from(files(1, ENV_FILES_MAX + 1)))], "\"env-files\""),
        (vec![("env-files", Value::from(files(16, 100 * 1024)))], "all env files together"),
        (vec![("opt1", Value::from("x".repeat(OPTION_MAX + 1)))], "\"opt1\""),
        (vec![("name", Value::from("n".repeat(OPTION_MAX + 1)))], "\"name\""),
    ];
    for (input, needle) in table {
        match check::<RunOptions>(&dict(input)) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains(needle), "{msg}"),
            other => panic!("expected InvalidArgument containing {needle}, got {other:?}"),
        }
    }
}

#[test]
fn unknown_keys_and_wrong_types_name_the_key() {
    let table: Vec<(Vec<(&'static str, Value<'static>)>, &str)> = vec![
        (vec![("bogus", Value::Bool(true))], "\"bogus\""),
        (vec![("spc", Value::from("yes"))], "option \"spc\""),
        (vec![("name", Value::U32(1))], "option \"name\""),
        (vec![("tty-size", Value::from((1u32, 2u32)))], "option \"tty-size\""),
        (vec![("pwd", Value::from("/")), ("sudo-uid", Value::from(-1i32))], "option \"sudo-uid\""),
    ];
    for (input, needle) in table {
        match check::<RunOptions>(&dict(input)) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains(needle), "{msg}"),
            other => panic!("expected InvalidArgument containing {needle}, got {other:?}"),
        }
    }
}

/// Install and Uninstall take the keys the introspection XML documents for them: fds for
/// the label's output, `pwd` and `sudo-*` for its variables, and none of Run's own.
#[test]
fn install_and_uninstall_keep_their_documented_keys() {
    let stderr = std::io::stderr();
    let fd = || Value::from(zvariant::Fd::from(std::os::fd::AsFd::as_fd(&stderr)));
    let stdout = dict(vec![("stdout", fd()), ("stderr", fd())]);
    check::<InstallOptions>(&stdout).unwrap();
    check::<UninstallOptions>(&stdout).unwrap();
    for key in ["stdin", "spc", "tty", "detach"] {
        let d = dict(vec![(key, Value::from("x"))]);
        assert!(check::<InstallOptions>(&d).is_err(), "{key}");
        assert!(check::<UninstallOptions>(&d).is_err(), "{key}");
    }
}

#[test]
fn a_typed_run_options_becomes_the_request_it_says() {
    let options = RunOptions {
        spc: Some(true),
        opt2: Some("b".into()),
        pwd: Some("/srv".into()),
        ..RunOptions::default()
    };
    let request = options.into_request("img".into(), vec!["true".into()]);
    assert!(request.spc && !request.detach);
    assert_eq!(request.inputs.opts, [None, Some("b".to_owned()), None]);
    assert_eq!(request.inputs.pwd.as_deref(), Some("/srv"));
    assert_eq!(request.command, ["true"]);
}
