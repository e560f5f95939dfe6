//! The signature policy in plans: decided before polkit, for the image that runs, refusing only
//! what `[trust] require` asks to be trusted.

use super::*;
use crate::trust::tests::{digest, Scene, REPO};
use crate::trust::Require;

const SPC_IMAGE: &str = "127.0.0.1:5000/atomic-test/app:1";
const INSTALL_TO_HOST: &str = "docker run --rm -v /:/host IMAGE sh -c 'echo x > /host/etc/motd'";

fn trusting(scene: &Scene, granted: &[&'static str]) -> World {
    world_with(granted, None, scene.verifier.clone())
}

/// The image as a registry gave it: its id and the digest of `REPO`.
fn pulled(w: &World, reference: &str, id: &str, digest: &str, labels: &[(&str, &str)]) {
    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let info = ImageInfo {
        id: id.into(),
        labels,
        repo_digests: vec![format!("{REPO}@{digest}")],
        ..ImageInfo::default()
    };
    w.engine.images.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.into(), info);
}

fn spc(image: &str) -> RunRequest {
    RunRequest { spc: true, ..run_request(image, &["true"]) }
}

#[tokio::test]
async fn an_unsigned_spc_is_untrusted_before_polkit_and_nothing_is_created() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.run-privileged"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[]);
    let r = w.manager.run(&caller(0), spc(SPC_IMAGE)).await;
    match r {
        Err(Error::Untrusted(m)) => {
            assert!(m.contains(SPC_IMAGE) && m.contains(&digest('a')), "{m}");
            assert!(m.contains("no signature") && m.contains("scope docker:"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert!(asked(&w).is_empty(), "polkit was not asked: {:?}", asked(&w));
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn a_signed_spc_runs_and_polkit_is_told_who_signed_it() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.run-privileged"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[]);
    scene.sign_gpg("atomic-test/app", &digest('a'), SPC_IMAGE);
    let r = w.manager.run(&caller(0), spc(SPC_IMAGE)).await.unwrap();
    let signature = r.signature.unwrap_or_else(|| panic!("no signature block"));
    assert_eq!(signature.verdict, "signed");
    assert_eq!(signature.digest.as_deref(), Some(digest('a').as_str()));
    let details = w.authority.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let shown = details.first().and_then(|(_, d)| d.get("signature").cloned()).unwrap_or_default();
    assert!(shown.starts_with("signed by ") && shown.contains(SPC_IMAGE), "{shown}");
    assert!(w.engine.calls().iter().any(|c| c.starts_with("create")), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn a_re_tagged_image_borrows_no_verdict() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.run-privileged"]);
    scene.sign_gpg("atomic-test/app", &digest('a'), SPC_IMAGE);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[]);
    let display = RunRequest { display: true, ..spc(SPC_IMAGE) };
    let shown = w.manager.run(&caller(0), display).await.unwrap();
    assert_eq!(shown.signature.map(|s| s.verdict).as_deref(), Some("signed"));
    // Another image under the same tag before the Run: its own digest decides.
    pulled(&w, SPC_IMAGE, "sha256:b2", &digest('b'), &[]);
    let r = w.manager.run(&caller(0), spc(SPC_IMAGE)).await;
    assert!(matches!(&r, Err(Error::Untrusted(m)) if m.contains(&digest('b'))), "{r:?}");
    // Built here, with no digest for the repository at all.
    w.engine.image(SPC_IMAGE, "sha256:c3", &[]);
    let r = w.manager.run(&caller(0), spc(SPC_IMAGE)).await;
    assert!(matches!(&r, Err(Error::Untrusted(m)) if m.contains("built or imported here")), "{r:?}");
}

#[tokio::test]
async fn a_confined_unsigned_run_is_shown_but_not_refused_unless_all_is_required() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.run"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[("RUN", "docker run --rm IMAGE true")]);
    let r = w.manager.run(&caller(1000), run_request(SPC_IMAGE, &[])).await.unwrap();
    let signature = r.signature.unwrap_or_else(|| panic!("no signature block"));
    assert_eq!((signature.verdict.as_str(), signature.trusted), ("rejected", false));

    let strict = Scene::requiring(r#"{"type": "reject"}"#, Require::All);
    let w = trusting(&strict, &["org.atomic.run"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[("RUN", "docker run --rm IMAGE true")]);
    let r = w.manager.run(&caller(1000), run_request(SPC_IMAGE, &[])).await;
    assert!(matches!(&r, Err(Error::Untrusted(m)) if m.contains("require = \"all\"")), "{r:?}");
}

#[tokio::test]
async fn display_says_it_would_be_refused_and_an_install_that_writes_to_the_host_is_refused() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.install", "org.atomic.run-privileged"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[("INSTALL", INSTALL_TO_HOST)]);
    let display = InstallRequest { image: SPC_IMAGE.into(), display: true, ..InstallRequest::default() };
    let shown = w.manager.install(&caller(0), display).await.unwrap();
    assert!(shown.warnings.iter().any(|w| w.contains("would be refused")), "{:?}", shown.warnings);
    let r = w
        .manager
        .install(&caller(0), InstallRequest { image: SPC_IMAGE.into(), ..InstallRequest::default() })
        .await;
    assert!(
        matches!(&r, Err(Error::Untrusted(m)) if m.contains("Install") && m.contains("reaches the host")),
        "{r:?}"
    );
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
    assert!(w.manager.state.installed().unwrap_or_default().is_empty(), "nothing recorded");
}

#[tokio::test]
async fn require_none_refuses_nothing_and_every_answer_still_shows_the_verdict() {
    let scene = Scene::requiring(r#"{"type": "reject"}"#, Require::None);
    let w = trusting(&scene, &["org.atomic.run-privileged"]);
    pulled(&w, SPC_IMAGE, "sha256:a1", &digest('a'), &[]);
    let r = w.manager.run(&caller(0), spc(SPC_IMAGE)).await.unwrap();
    assert_eq!(r.signature.map(|s| s.verdict).as_deref(), Some("rejected"));
    let info = w.manager.info(&caller(1000), SPC_IMAGE, LabelInputs::default()).await.unwrap();
    assert_eq!(info.signature.map(|s| s.verdict).as_deref(), Some("rejected"));
    let listed = w.manager.list_images(false).await.unwrap();
    assert_eq!(listed.iter().map(|i| i.verified.as_str()).collect::<Vec<_>>(), ["rejected"]);
}

#[tokio::test]
async fn trust_edits_need_org_atomic_trust() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &[]);
    let before = std::fs::read_to_string(scene.dir.join("policy.json")).unwrap_or_default();
    let r = w.manager.trust_edit(&caller(65534), crate::trust::Edit::Default { accept: true }).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.trust"]);
    assert_eq!(std::fs::read_to_string(scene.dir.join("policy.json")).unwrap_or_default(), before);
    let shown = w.manager.trust_show();
    assert!(shown.present && shown.error.is_none());
    assert_eq!(shown.default.types, ["reject"]);
    assert!(shown
        .scopes
        .iter()
        .any(|s| s.scope == "127.0.0.1:5000/atomic-test/cosign" && s.types == ["sigstoreSigned"]));
}

#[tokio::test]
async fn a_stop_label_that_reaches_the_host_is_judged_too() {
    let scene = Scene::new(r#"{"type": "reject"}"#);
    let w = trusting(&scene, &["org.atomic.stop", "org.atomic.run-privileged"]);
    w.engine.image("app", "sha256:a1", &[("STOP", "docker run --rm --pid=host IMAGE kill 1")]);
    w.made(mine("app", "sha256:a1", true, &[]));
    let r = w.manager.stop(&caller(1000), "app", 10, false, LabelInputs::default()).await;
    assert!(
        matches!(&r, Err(Error::Untrusted(m)) if m.contains("Stop") && m.contains("rejects every image")),
        "{r:?}"
    );
    assert!(asked(&w).is_empty(), "{:?}", asked(&w));
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}
