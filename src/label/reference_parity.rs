//! atomicd's image reference parser against oci-spec's (the regex of distribution/reference):
//! the same strings are accepted, with the same default container name. Generated from tokens
//! that make up real references and their near misses; ASCII only, where both read `\w` alike.

use super::ImageRef;
use oci_spec::distribution::Reference;
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "a",
    "b0",
    "tools",
    "Z",
    "UP",
    "9",
    "-",
    "--",
    ".",
    "_",
    "__",
    "/",
    ":",
    "5000",
    "@",
    "localhost",
    "quay.io",
    "127.0.0.1",
    "latest",
    "v1.2",
    ".x",
    "-x",
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "sha512:0123456789abcdef0123456789abcdef",
    "md5:0123456789abcdef0123456789abcdef",
];

fn reference_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 1..9).prop_map(|t| t.concat())
}

fn default_name(r: &Reference) -> String {
    r.repository().rsplit('/').next().unwrap_or_default().to_owned()
}

fn check(text: &str) {
    let theirs = Reference::try_from(text);
    let ours = ImageRef::parse(text);
    assert_eq!(ours.is_ok(), theirs.is_ok(), "{text:?}: ours {ours:?}, oci-spec {theirs:?}");
    if let (Ok(o), Ok(t)) = (ours, theirs) {
        assert_eq!(o.default_name(), default_name(&t), "{text:?}");
    }
}

#[test]
fn known_cases_agree() {
    let long_path = format!("a/{}", "b".repeat(254));
    let long_tag = format!("a:{}", "t".repeat(129));
    for text in [
        "busybox",
        "tools:latest",
        "127.0.0.1:5000/tools",
        "localhost/team/ntpd:1.2",
        "localhost:5000",
        "a__b",
        "a___b",
        "a--b",
        "a.-b",
        "-a",
        "a-",
        "UPPER",
        "Upper/lower",
        "x.io/UP",
        "a//b",
        "a/",
        "../x",
        "a b",
        "a;rm",
        ":tag",
        "tools:",
        "x@sha256:12",
        "a:b/c",
        "a/b:c:d",
        long_path.as_str(),
        long_tag.as_str(),
        "quay.io:443/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        check(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
    ))]

    #[test]
    fn generated_references_agree(text in reference_like()) {
        check(&text);
    }
}
