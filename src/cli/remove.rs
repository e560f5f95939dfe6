//! `atomic images delete|prune` and `atomic containers delete|trim`: RemoveImage, PruneImages,
//! RemoveContainer (one call per name, each said as it goes; the exit code is 1 when any failed)
//! and TrimContainers.

use super::args::{DeleteContainersArgs, DeleteImagesArgs, DisplayArg};
use super::job::printable;
use super::{flag, print_command, print_warnings, Failure};
use crate::dbus::proxy::{
    ListOptions, ManagerProxy, PruneOptions, RemoveContainerOptions, RemoveImageOptions, TrimOptions,
};

/// The states of a container that has stopped (or never started): `delete --all` takes these.
const STOPPED: [&str; 3] = ["exited", "created", "dead"];

/// Prints a failure of one of several removals and notes it for the exit code.
fn report(failed: &mut bool, what: &str, e: zbus::Error) {
    let failure = Failure::from(e);
    eprintln!("atomic: cannot remove {what}: {}", failure.message);
    *failed = true;
}

/// `atomic images delete [--force] [--display] IMAGE...`
pub(super) async fn delete_images(proxy: &ManagerProxy<'_>, a: DeleteImagesArgs) -> Result<u8, Failure> {
    let options = RemoveImageOptions { force: flag(a.force), display: flag(a.display) };
    let mut failed = false;
    for image in &a.images {
        let shown = printable(image);
        match proxy.remove_image(image, &options).await {
            Ok(r) if a.display => print_command(&r.command),
            Ok(r) => {
                print_warnings(&r.warnings);
                match r.deleted {
                    true => println!("Removed image {shown} ({})", r.image_id),
                    false => println!("Untagged {shown}; its content stays under its other names"),
                }
            }
            Err(e) => report(&mut failed, &format!("image {shown}"), e),
        }
    }
    Ok(u8::from(failed))
}

/// `atomic images prune [--display]`
pub(super) async fn prune_images(proxy: &ManagerProxy<'_>, a: DisplayArg) -> Result<u8, Failure> {
    let r = proxy.prune_images(&PruneOptions { display: flag(a.display) }).await?;
    print_warnings(&r.warnings);
    if r.images.is_empty() {
        println!("No dangling images to remove");
        return Ok(0);
    }
    let verb = if a.display { "Would remove" } else { "Removed" };
    for id in &r.images {
        println!("{verb} {id}");
    }
    if !a.display {
        println!("Reclaimed {}", super::tables::size(r.reclaimed));
    }
    Ok(u8::from(!r.warnings.is_empty()))
}

/// `atomic containers delete [--force] [--display] (--all | NAME...)`
pub(super) async fn delete_containers(
    proxy: &ManagerProxy<'_>,
    a: DeleteContainersArgs,
) -> Result<u8, Failure> {
    let names = match a.all {
        false => a.names.clone(),
        true => {
            let me = nix::unistd::getuid().as_raw();
            let listed = proxy.list_containers(&ListOptions::default()).await?;
            listed
                .into_iter()
                .filter(|c| c.managed && c.started_by == Some(me))
                .filter(|c| a.force || STOPPED.contains(&c.state.as_str()))
                .map(|c| c.name)
                .collect()
        }
    };
    let options = RemoveContainerOptions { force: flag(a.force), display: flag(a.display) };
    let mut failed = false;
    for name in &names {
        let shown = printable(name);
        match proxy.remove_container(name, &options).await {
            Ok(r) if a.display => print_command(&r.command),
            Ok(_) => println!("Removed container {shown}"),
            Err(e) => report(&mut failed, &format!("container {shown}"), e),
        }
    }
    if names.is_empty() {
        println!("No containers to remove");
    }
    Ok(u8::from(failed))
}

/// `atomic containers trim [--display]`
pub(super) async fn trim_containers(proxy: &ManagerProxy<'_>, a: DisplayArg) -> Result<u8, Failure> {
    let r = proxy.trim_containers(&TrimOptions { display: flag(a.display) }).await?;
    print_warnings(&r.warnings);
    if r.containers.is_empty() {
        println!("No running containers of atomicd's to trim");
        return Ok(u8::from(!r.warnings.is_empty()));
    }
    if a.display {
        print_command(&r.command);
        return Ok(0);
    }
    let names: Vec<String> = r.containers.iter().map(|c| printable(c)).collect();
    println!("Trimmed the storage of {}: {} discarded", names.join(", "), super::tables::size(r.trimmed));
    Ok(u8::from(!r.warnings.is_empty()))
}
