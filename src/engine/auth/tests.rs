//! The tests of `engine/auth`.

use super::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn targets_split_registry_and_repository_as_docker_does() {
    let t = |r: &str, hub: bool| target(r, hub).map(|t| (t.registry.to_owned(), t.repository));
    let own = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
    for (reference, hub, want) in [
        ("127.0.0.1:5001/atomic-test/app:latest", false, own("127.0.0.1:5001", "atomic-test/app")),
        ("127.0.0.1:5001/atomic-test/app", false, own("127.0.0.1:5001", "atomic-test/app")),
        ("quay.io/a/b@sha256:00", false, own("quay.io", "a/b")),
        ("localhost/x:1", false, own("localhost", "x")),
        ("index.docker.io/library/busybox", false, own("docker.io", "library/busybox")),
        ("busybox:1.36", true, own("docker.io", "library/busybox")),
        ("user/tool", true, own("docker.io", "user/tool")),
        // podman resolves short names itself: no registry is known, no login is sent.
        ("busybox:1.36", false, None),
        ("user/tool", false, None),
        // An upper-case first component is a registry host to both engines: Docker Hub's
        // login must never be sent for it.
        ("Sechost/x", true, own("Sechost", "x")),
        ("Sechost/x:1", false, own("Sechost", "x")),
        ("sechost/x", true, own("docker.io", "sechost/x")),
    ] {
        assert_eq!(t(reference, hub), want, "{reference}");
    }
}

#[test]
fn the_most_specific_key_of_the_right_registry_wins() {
    let file = format!(
        r#"{{"auths": {{
            "127.0.0.1:5001": {{"auth": "{}"}},
            "127.0.0.1:5001/atomic-test": {{"auth": "{}"}},
            "https://index.docker.io/v1/": {{"auth": "{}"}},
            "quay.io": {{"username": "q", "password": "qp"}},
            "ghcr.io": {{"identitytoken": "tok"}}
        }}}}"#,
        b64("host:hp"),
        b64("ns:np:with-colon"),
        b64("hub:hubp")
    );
    let path = Path::new("/f.json");
    let who = |registry: &str, repository: &str| match find(
        &file,
        path,
        &Target { registry, repository: repository.to_owned() },
    ) {
        Ok(Found::Login(c)) => {
            let h = c.to_docker(registry);
            match h.identitytoken {
                Some(token) => format!("token {token}"),
                None => format!("{}:{}", h.username.unwrap_or_default(), h.password.unwrap_or_default()),
            }
        }
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("{e}"),
    };
    assert_eq!(who("127.0.0.1:5001", "atomic-test/app"), "ns:np:with-colon");
    assert_eq!(who("127.0.0.1:5001", "other/app"), "host:hp");
    assert_eq!(who("docker.io", "library/busybox"), "hub:hubp");
    assert_eq!(who("quay.io", "a/b"), "q:qp");
    assert_eq!(who("ghcr.io", "a/b"), "token tok");
    // Another registry, or the same host on another port, gets nothing.
    assert_eq!(who("127.0.0.1:5000", "atomic-test/app"), "Nothing");
    assert_eq!(who("127.0.0.1", "atomic-test/app"), "Nothing");
    assert_eq!(who("example.com", "127.0.0.1:5001"), "Nothing");
}

#[test]
fn a_password_with_a_colon_survives_and_headers_carry_it() {
    let file = format!(r#"{{"auths": {{"r.io": {{"auth": "{}"}}}}}}"#, b64("u:p:q"));
    let found = find(&file, Path::new("/a"), &Target { registry: "r.io", repository: "x".into() });
    let Ok(Found::Login(c)) = found else { panic!("{found:?}") };
    let header = c.to_docker("r.io");
    assert_eq!(header.username.as_deref(), Some("u"));
    assert_eq!(header.password.as_deref(), Some("p:q"));
    assert_eq!(header.serveraddress.as_deref(), Some("r.io"));
}

#[test]
fn debug_and_redact_never_show_the_secret() {
    let file = format!(r#"{{"auths": {{"r.io": {{"auth": "{}"}}}}}}"#, b64("user:pa55word"));
    let Ok(Found::Login(c)) =
        find(&file, Path::new("/a"), &Target { registry: "r.io", repository: "x".into() })
    else {
        panic!("no login")
    };
    assert!(!format!("{c:?}").contains("pa55word"));
    let echoed = format!("engine said: bad pa55word and {}", b64("user:pa55word"));
    assert_eq!(c.redact(&echoed), "engine said: bad <hidden> and <hidden>");
}

#[test]
fn helpers_and_broken_files_are_named_without_their_content() {
    let target = Target { registry: "r.io", repository: "x".into() };
    let path = Path::new("/root/.docker/config.json");
    assert_eq!(find(r#"{"credsStore": "desktop"}"#, path, &target), Ok(Found::HelperOnly("desktop".into())));
    assert_eq!(
        find(r#"{"credsStore": "a", "credHelpers": {"r.io": "ecr-login"}}"#, path, &target),
        Ok(Found::HelperOnly("ecr-login".into()))
    );
    assert_eq!(find("{}", path, &target), Ok(Found::Nothing));
    let error = |text: &str| find(text, path, &target).map(|f| format!("{f:?}")).err().map(|e| e.to_string());
    let broken = error(r#"{"auths": {"r.io": {"auth": "sekrit!!"}}}"#).unwrap_or_default();
    assert_eq!(broken, "/root/.docker/config.json: an \"auth\" value is not base64 of user:password");
    let not_json = error("password=hunter2").unwrap_or_default();
    assert!(not_json.starts_with("/root/.docker/config.json: not an auth file"), "{not_json}");
    assert!(!not_json.contains("hunter2"));
}

#[test]
fn files_are_podmans_then_dockers_unless_one_is_given() {
    let env = AuthEnv { xdg_runtime_dir: Some("/run/user/0".into()), ..AuthEnv::default() };
    assert_eq!(
        AuthFiles::new(None, &env).describe(),
        "/run/user/0/containers/auth.json, /etc/containers/auth.json, /root/.docker/config.json"
    );
    assert!(AuthFiles::new(None, &AuthEnv::default())
        .describe()
        .starts_with("/run/containers/0/auth.json, "));
    assert_eq!(AuthFiles::new(Some("/etc/a.json".into()), &env).describe(), "/etc/a.json");
}

#[test]
fn auth_failures_are_recognised_in_both_engines_words() {
    for (message, auth) in [
        ("initializing source docker://127.0.0.1:5001/a:latest: reading manifest latest in 127.0.0.1:5001/a: unauthorized: authentication required", true),
        ("Head \"http://127.0.0.1:5001/v2/a/manifests/latest\": no basic auth credentials", true),
        ("pull access denied for x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", true),
        ("manifest unknown", false),
        ("127.0.0.1:5001/a: not found", false),
    ] {
        assert_eq!(is_auth_failure(message), auth, "{message}");
    }
}
