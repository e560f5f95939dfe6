//! RemoveContainer, RemoveImage and PruneImages on the fakes: only atomicd's containers, never
//! an image something uses, and polkit shown exactly what goes.

use super::*;
use crate::system::state::Installation;

fn details_of(w: &World, n: usize) -> HashMap<String, String> {
    w.authority.asked.lock().unwrap_or_else(|p| p.into_inner())[n].1.clone()
}

fn installed(w: &World, image: &str, image_id: &str, name: &str) {
    let record = Installation {
        image: image.into(),
        image_id: image_id.into(),
        name: name.into(),
        installed_at: 0,
        installed_by: 0,
    };
    w.manager.state.save_installed(&[record]).unwrap();
}

#[tokio::test]
async fn a_container_is_removed_only_when_atomicd_made_it_and_it_has_stopped() {
    let w = world(&["org.atomic.uninstall"]);
    w.made(mine("mine", "sha256:a1", false, &[]));
    w.made(mine("busy", "sha256:a1", true, &[]));
    let mut foreign = mine("theirs", "sha256:a1", false, &[]);
    foreign.id = "theirs-id".into();
    w.engine.container(foreign);

    let r = w.manager.remove_container(&caller(1000), "theirs", false, false).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("not made by atomicd")), "{r:?}");
    let r = w.manager.remove_container(&caller(1000), "busy", false, false).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("is running")), "{r:?}");
    let r = w.manager.remove_container(&caller(1000), "nothere", false, false).await;
    assert!(matches!(&r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(asked(&w).is_empty(), "nothing was asked for what is refused anyway");

    let shown = w.manager.remove_container(&caller(1000), "mine", false, true).await.unwrap();
    assert_eq!((shown.command.join(" ").as_str(), shown.removed), ("docker rm mine", false));
    assert!(w.engine.calls().is_empty(), "display removed: {:?}", w.engine.calls());

    let r = w.manager.remove_container(&caller(1000), "mine", false, false).await.unwrap();
    assert!(r.removed);
    assert_eq!(asked(&w), ["org.atomic.uninstall"]);
    assert_eq!(details_of(&w, 0)["removes"], "container mine");
    let r = w.manager.remove_container(&caller(1000), "busy", true, false).await.unwrap();
    assert_eq!(r.command, ["docker", "rm", "-f", "busy"]);
    assert_eq!(w.engine.calls(), ["rm mine-id", "rm busy-id"]);
}

#[tokio::test]
async fn another_caller_s_container_needs_manage_any() {
    let w = world(&["org.atomic.uninstall"]);
    w.made(mine("shared", "sha256:a1", false, &[]));
    let r = w.manager.remove_container(&caller(1001), "shared", false, false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.uninstall", "org.atomic.manage-any"]);
    assert_eq!(details_of(&w, 1)["other-callers"], "uid 1000");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn an_image_in_use_or_installed_stays() {
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("used", "sha256:u1", &[]);
    let mut theirs = mine("theirs", "sha256:u1", false, &[]);
    theirs.id = "theirs-id".into();
    w.engine.container(theirs);
    let r = w.manager.remove_image(&caller(0), "used", true, false).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("used by container theirs")), "{r:?}");

    w.engine.image("app", "sha256:a1", &[]);
    installed(&w, "app", "sha256:a1", "app");
    let r = w.manager.remove_image(&caller(0), "app", false, false).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("is installed (as app)")), "{r:?}");
    assert!(asked(&w).is_empty());
    let r = w.manager.remove_image(&caller(0), "app", true, false).await.unwrap();
    assert!(r.deleted);
    assert_eq!(r.image_id, "sha256:a1");
    assert!(r.warnings[0].contains("installation record of app stays"), "{:?}", r.warnings);
    assert_eq!(details_of(&w, 0)["removes"], "image app (installed)");
    assert_eq!(w.engine.calls(), ["rmi app"]);
    let r = w.manager.remove_image(&caller(0), "app", false, false).await;
    assert!(matches!(r, Err(Error::ImageNotFound(_))), "{r:?}");
}

#[tokio::test]
async fn prune_removes_exactly_the_dangling_images_polkit_was_shown() {
    let w = world(&["org.atomic.uninstall"]);
    let id = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    w.engine.image("named", &id('1'), &[]);
    for c in ['2', '3', '4'] {
        w.engine.image(&id(c), &id(c), &[]);
    }
    // '3' is a container's image, '4' an installed application's: both stay.
    let mut user = mine("user", &id('3'), false, &[]);
    user.id = "user-id".into();
    w.engine.container(user);
    installed(&w, "old", &id('4'), "old");

    let shown = w.manager.prune_images(&caller(0), true).await.unwrap();
    assert_eq!(shown.images, [id('2')]);
    assert!(asked(&w).is_empty() && w.engine.calls().is_empty());
    let r = w.manager.prune_images(&caller(0), false).await.unwrap();
    assert_eq!((r.images.clone(), r.reclaimed), (vec![id('2')], 1000));
    assert_eq!(details_of(&w, 0)["removes"], format!("1 dangling image(s): {}", id('2')));
    assert_eq!(w.engine.calls(), [format!("rmi {}", id('2'))]);

    // Nothing left to prune: nothing is asked.
    let r = w.manager.prune_images(&caller(0), false).await.unwrap();
    assert!(r.images.is_empty());
    assert_eq!(asked(&w).len(), 1);
}

#[tokio::test]
async fn a_refused_caller_removes_nothing() {
    // A caller that may run, and nothing more.
    let w = world(&["org.atomic.run"]);
    w.made(mine("mine", "sha256:a1", false, &[]));
    w.made(mine("up", "sha256:a1", true, &[]));
    w.engine.image("other", "sha256:o1", &[]);
    let r = w.manager.remove_container(&caller(1000), "mine", false, false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let r = w.manager.remove_image(&caller(1000), "other", false, false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    let r = w.manager.trim_containers(&caller(1000), false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert!(w.trim.trimmed.lock().unwrap().is_empty(), "trimmed for a run-only caller");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn a_reference_moved_while_polkit_asks_removes_nothing() {
    let w = world(&["org.atomic.uninstall"]);
    w.engine.image("moving", "sha256:m1", &[]);
    let engine = w.engine.clone();
    *w.authority.while_asking.lock().unwrap() =
        Some(Box::new(move || engine.image("moving", "sha256:m2", &[])));
    let r = w.manager.remove_image(&caller(0), "moving", false, false).await;
    assert!(matches!(&r, Err(Error::Failed(m)) if m.contains("changed while polkit was asked")), "{r:?}");
    assert_eq!(details_of(&w, 0)["image-id"], "sha256:m1", "polkit is told which image the name meant");
    assert!(w.engine.calls().is_empty(), "{:?}", w.engine.calls());
}

#[tokio::test]
async fn trim_touches_the_storage_of_atomicd_s_running_containers_only() {
    let w = world(&["org.atomic.uninstall"]);
    w.made(mine("up", "sha256:a1", true, &[]));
    w.made(mine("down", "sha256:a1", false, &[]));
    let mut foreign = mine("theirs", "sha256:a1", true, &[]);
    foreign.id = "theirs-id".into();
    w.engine.container(foreign);

    let shown = w.manager.trim_containers(&caller(1000), true).await.unwrap();
    assert_eq!(shown.containers, ["up"]);
    assert_eq!(shown.command, ["fstrim", "-v", "/fake/storage/up-id/diff"]);
    assert!(asked(&w).is_empty() && w.trim.trimmed.lock().unwrap().is_empty(), "display trimmed");

    let r = w.manager.trim_containers(&caller(1000), false).await.unwrap();
    assert_eq!((r.containers.clone(), r.trimmed), (vec!["up".to_owned()], 4096));
    assert_eq!(asked(&w), ["org.atomic.uninstall"]);
    assert_eq!(details_of(&w, 0)["removes"], "the unused blocks under 1 running container(s): up");
    assert_eq!(*w.trim.trimmed.lock().unwrap(), ["/fake/storage/up-id/diff"]);
    assert!(w.engine.calls().is_empty(), "no container was touched: {:?}", w.engine.calls());
}

#[tokio::test]
async fn trim_asks_manage_any_for_another_caller_s_container_and_nothing_for_none() {
    let w = world(&["org.atomic.uninstall"]);
    let r = w.manager.trim_containers(&caller(1000), false).await.unwrap();
    assert!(r.containers.is_empty() && asked(&w).is_empty(), "nothing running, nothing asked");
    w.made(mine("shared", "sha256:a1", true, &[]));
    let r = w.manager.trim_containers(&caller(1001), false).await;
    assert!(matches!(r, Err(Error::AccessDenied(_))), "{r:?}");
    assert_eq!(asked(&w), ["org.atomic.uninstall", "org.atomic.manage-any"]);
    assert!(w.trim.trimmed.lock().unwrap().is_empty());
}
