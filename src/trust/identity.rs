//! `signedIdentity`: whether the identity a signature claims is one the policy accepts for the
//! image's reference (containers-policy.json(5)).

use super::policy::Identity;
use super::reference::Named;

/// Ok when `signed` satisfies `rule` (the default, matchRepoDigestOrExact, when `None`) for an
/// image called `image` (its tag defaulted); else why not.
pub(super) fn check(rule: Option<&Identity>, image: &Named, signed: &str) -> Result<(), String> {
    let Some(claimed) = Named::parse(signed) else {
        return Err(format!("the signature claims {signed:?}, which is not a Docker reference"));
    };
    let other = || Err(format!("the signature is for {:?}, not {:?}", claimed.full(), image.full()));
    let same = match rule.unwrap_or(&Identity::MatchRepoDigestOrExact) {
        Identity::MatchExact => image.full() == claimed.full(),
        Identity::MatchRepoDigestOrExact => repo_digest_or_exact(image, &claimed),
        Identity::MatchRepository => image.repository() == claimed.repository(),
        Identity::ExactReference { docker_reference } => {
            Named::parse(docker_reference).is_some_and(|r| r.full() == claimed.full())
        }
        Identity::ExactRepository { docker_repository } => {
            Named::parse(docker_repository).is_some_and(|r| r.repository() == claimed.repository())
        }
        Identity::RemapIdentity { prefix, signed_prefix } => match remap(image, prefix, signed_prefix) {
            Some(remapped) => repo_digest_or_exact(&remapped, &claimed),
            None => repo_digest_or_exact(image, &claimed),
        },
    };
    if same {
        Ok(())
    } else {
        other()
    }
}

fn repo_digest_or_exact(image: &Named, claimed: &Named) -> bool {
    match image.digest {
        Some(_) => image.repository() == claimed.repository(),
        None => image.full() == claimed.full(),
    }
}

/// `image` with `prefix` replaced by `signed_prefix`, when it starts with it at a component's
/// end.
fn remap(image: &Named, prefix: &str, signed_prefix: &str) -> Option<Named> {
    let full = image.full();
    let normal = |p: &str| match Named::parse(p) {
        Some(n) if p.contains('/') => n.repository(),
        _ => p.to_owned(),
    };
    let (prefix, signed_prefix) = (normal(prefix), normal(signed_prefix));
    let rest = full.strip_prefix(&prefix)?;
    if !(rest.is_empty() || rest.starts_with(['/', ':', '@'])) {
        return None;
    }
    Named::parse(&format!("{signed_prefix}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(t: &str) -> Named {
        Named::parse(t).map(Named::with_default_tag).unwrap_or_else(|| panic!("{t}"))
    }

    #[test]
    fn each_rule_accepts_what_the_man_page_says() {
        let hex = "a".repeat(64);
        let digested = format!("reg.io/team/app@sha256:{hex}");
        let repo = |docker_repository: &str| Identity::ExactRepository {
            docker_repository: docker_repository.into(),
        };
        let table: Vec<(Option<Identity>, &str, &str, bool)> = vec![
            (None, "reg.io/team/app:1", "reg.io/team/app:1", true),
            (None, "reg.io/team/app", "reg.io/team/app:latest", true),
            (None, "reg.io/team/app:1", "reg.io/team/app:2", false),
            (None, "reg.io/team/app:1", "reg.io/team/app", false),
            (None, &digested, "reg.io/team/app:whatever", true),
            (None, &digested, "reg.io/other/app:1", false),
            (Some(Identity::MatchExact), &digested, "reg.io/team/app:1", false),
            (Some(Identity::MatchRepository), "reg.io/team/app:1", "reg.io/team/app", true),
            (Some(Identity::MatchRepository), "reg.io/team/app:1", "reg.io/team/other:1", false),
            (
                Some(Identity::ExactReference { docker_reference: "x.io/a:1".into() }),
                "reg.io/team/app:1",
                "x.io/a:1",
                true,
            ),
            (
                Some(Identity::ExactReference { docker_reference: "x.io/a:1".into() }),
                "reg.io/team/app:1",
                "reg.io/team/app:1",
                false,
            ),
            (Some(repo("x.io/a")), "reg.io/team/app:1", "x.io/a:7", true),
            (
                Some(Identity::RemapIdentity {
                    prefix: "mirror.local/team".into(),
                    signed_prefix: "reg.io/team".into(),
                }),
                "mirror.local/team/app:1",
                "reg.io/team/app:1",
                true,
            ),
            (
                Some(Identity::RemapIdentity {
                    prefix: "mirror.local/team".into(),
                    signed_prefix: "reg.io/team".into(),
                }),
                "mirror.local/teamx/app:1",
                "reg.io/teamx/app:1",
                false,
            ),
        ];
        for (rule, img, signed, ok) in table {
            let got = check(rule.as_ref(), &image(img), signed);
            assert_eq!(got.is_ok(), ok, "{rule:?} {img} signed as {signed}: {got:?}");
        }
        assert!(
            check(None, &image("a.io/b:1"), "NOT a ref").is_err_and(|e| e.contains("not a Docker reference"))
        );
    }
}
