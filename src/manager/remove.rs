//! Removal of what a UI lists: one of atomicd's own containers (RemoveContainer), an image no
//! installed application and no container uses (RemoveImage), and the dangling images
//! (PruneImages); and TrimContainers, the original's `containers trim`, which removes no
//! container but discards the unused blocks of the filesystems under atomicd's running ones.
//! Each call is planned once as a [`Removal`]: what it shows, what polkit is asked
//! (`org.atomic.uninstall`, and `manage-any` for another caller's container) and what the engine
//! removes are the same list, and nothing outside it.

use super::authorize::other_callers_detail;
use super::jobs::Shown;
use super::Manager;
use crate::engine::{same_image, ContainerInfo, ContainerSummary};
use crate::error::{Error, Result};
use crate::label::{is_digest, validate_container_name, ImageRef, Ownership};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::wire::results::{PruneResult, RemoveContainerResult, RemoveImageResult, TrimResult};

/// How many image ids polkit's message lists before it says how many more there are.
const SHOWN_IDS: usize = 20;

/// One removal, resolved before anything is asked.
struct Removal {
    /// The method, as jobs name it.
    operation: &'static str,
    /// What it is about: the container's name, the image, or "dangling images".
    target: String,
    /// The engine command it comes down to, for display, polkit and the job.
    argv: Vec<String>,
    /// What polkit is told goes.
    removes: String,
    /// The callers other than this one whose container it removes.
    other_callers: Vec<u32>,
    /// The image id a reference stood for when polkit was asked.
    image_id: Option<String>,
}

impl Removal {
    fn actions(&self) -> Vec<Action> {
        std::iter::once(Action::Uninstall)
            .chain((!self.other_callers.is_empty()).then_some(Action::ManageAny))
            .collect()
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        // `image` is what the policy's message names; here it is what goes.
        let mut d = vec![
            ("image", self.removes.clone()),
            ("command", crate::text::display_line(&self.argv)),
            ("removes", self.removes.clone()),
        ];
        d.extend(self.image_id.iter().map(|id| ("image-id", id.clone())));
        d.extend(other_callers_detail(&self.other_callers));
        d
    }
}

/// An image argument: an id (`sha256:…`) as lists give dangling images, or a reference.
enum ImageArg {
    Id(String),
    Reference(ImageRef),
}

impl ImageArg {
    fn parse(text: &str) -> Result<Self> {
        if is_digest(text) {
            return Ok(ImageArg::Id(text.to_owned()));
        }
        ImageRef::parse(text).map(ImageArg::Reference)
    }

    fn as_str(&self) -> &str {
        match self {
            ImageArg::Id(id) => id,
            ImageArg::Reference(r) => r.as_str(),
        }
    }
}

impl Manager {
    /// The container named exactly `name` and atomicd's record of it; one atomicd did not make
    /// is an error saying to `verb` it with the engine's own tools.
    pub(super) async fn atomicd_s(&self, name: &str, verb: &str) -> Result<(ContainerInfo, Ownership)> {
        validate_container_name(name)?;
        let container = self
            .engine
            .find_container(name)
            .await?
            .ok_or_else(|| Error::InvalidArgument(format!("there is no container named {name:?}")))?;
        let Some(owner) = container.owner.clone() else {
            return Err(Error::Failed(format!(
                "container {name:?} was not made by atomicd, which does not touch it; {verb} it with \
                 the engine's own tools"
            )));
        };
        Ok((container, owner))
    }

    /// Asks polkit for every action the removal needs, then exports its job.
    async fn authorize_removal(&self, caller: &Caller, removal: &Removal) -> Result<super::jobs::Job> {
        self.ask_all(caller, removal.actions(), &removal.details()).await?;
        tracing::info!(
            message_id = crate::system::message_ids::AUTHORIZED,
            operation = removal.operation,
            uid = caller.uid,
            command = %crate::text::display_line(&removal.argv),
            "polkit allowed {} of {}",
            removal.operation,
            crate::text::visible(&removal.target)
        );
        let shown = Shown { command: removal.argv.clone(), ..Shown::default() };
        Ok(self.jobs.start(removal.operation, &removal.target, caller, shown).await)
    }

    /// RemoveContainer NAME: only a container atomicd made; a running one only with `force`.
    pub async fn remove_container(
        &self,
        caller: &Caller,
        name: &str,
        force: bool,
        display: bool,
    ) -> Result<RemoveContainerResult> {
        let (container, owner) = self.atomicd_s(name, "remove").await?;
        if container.running && !force {
            return Err(Error::Failed(format!(
                "container {name:?} is running; stop it first (atomic stop {name}), or pass force"
            )));
        }
        let argv: Vec<String> = ["docker", "rm"]
            .into_iter()
            .chain(force.then_some("-f"))
            .chain([name])
            .map(String::from)
            .collect();
        let removal = Removal {
            operation: "RemoveContainer",
            target: name.to_owned(),
            argv,
            removes: format!("container {name}"),
            other_callers: (owner.caller_uid != caller.uid).then_some(owner.caller_uid).into_iter().collect(),
            image_id: None,
        };
        let mut result = RemoveContainerResult {
            command: removal.argv.clone(),
            container_id: container.id.clone(),
            removed: false,
        };
        if display {
            return Ok(result);
        }
        let _job = self.authorize_removal(caller, &removal).await?;
        self.engine.remove(&container.id, force).await?;
        result.removed = true;
        Ok(result)
    }

    /// RemoveImage IMAGE (a reference, or an id): not while a container uses it (atomicd's or
    /// not: the engine's force would take those too), nor while an installed application does
    /// unless `force`.
    pub async fn remove_image(
        &self,
        caller: &Caller,
        image: &str,
        force: bool,
        display: bool,
    ) -> Result<RemoveImageResult> {
        let image = ImageArg::parse(image)?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        // A name the image has besides others only goes; its containers keep their image.
        let names = match &image {
            ImageArg::Id(_) => 0,
            ImageArg::Reference(_) => {
                let listed = self.engine.list_images(false).await?;
                listed.iter().find(|i| same_image(&i.id, &info.id)).map_or(0, |i| i.tags.len())
            }
        };
        let users: Vec<String> = if names > 1 {
            Vec::new()
        } else {
            self.engine.containers_of(&info.id).await?.into_iter().map(|c: ContainerSummary| c.name).collect()
        };
        if !users.is_empty() {
            return Err(Error::Failed(format!(
                "image {} is used by container {}; remove {} first",
                crate::text::visible(image.as_str()),
                crate::text::visible(&users.join(", ")),
                if users.len() == 1 { "it" } else { "them" }
            )));
        }
        let installed: Vec<String> = self
            .state
            .installed()?
            .into_iter()
            .filter(|i| same_image(&i.image_id, &info.id) || i.image == image.as_str())
            .map(|i| i.name)
            .collect();
        let mut warnings = Vec::new();
        if !installed.is_empty() {
            let names = crate::text::visible(&installed.join(", ")).into_owned();
            if !force {
                return Err(Error::Failed(format!(
                    "image {} is installed (as {names}); uninstall it, or pass force",
                    crate::text::visible(image.as_str())
                )));
            }
            warnings.push(format!(
                "the installation record of {names} stays; Uninstall runs its UNINSTALL label and drops it"
            ));
        }
        let argv = vec!["docker".to_owned(), "rmi".to_owned(), image.as_str().to_owned()];
        let removes = match installed.is_empty() {
            true => format!("image {}", image.as_str()),
            false => format!("image {} (installed)", image.as_str()),
        };
        let removal = Removal {
            operation: "RemoveImage",
            target: image.as_str().to_owned(),
            argv,
            removes,
            other_callers: vec![],
            image_id: Some(info.id.clone()),
        };
        let mut result = RemoveImageResult {
            command: removal.argv.clone(),
            image_id: info.id.clone(),
            deleted: false,
            warnings,
        };
        if display {
            return Ok(result);
        }
        let _job = self.authorize_removal(caller, &removal).await?;
        // polkit may take minutes: a reference moved to another image meanwhile is not what was
        // allowed, and that image was never checked for users.
        let now = self.engine.inspect_image(image.as_str()).await?;
        if !same_image(&now.id, &info.id) {
            return Err(Error::Failed(format!(
                "image {} changed while polkit was asked (it was {}, it is {}); nothing was removed",
                crate::text::visible(image.as_str()),
                info.id,
                now.id
            )));
        }
        result.deleted = self.engine.remove_image(image.as_str()).await?;
        Ok(result)
    }

    /// PruneImages: the images with no name that no container and no installed application
    /// uses, listed first; polkit is shown that list, and only it is removed.
    pub async fn prune_images(&self, caller: &Caller, display: bool) -> Result<PruneResult> {
        let (images, containers) =
            tokio::join!(self.engine.list_images(false), self.engine.list_containers());
        let (images, containers) = (images?, containers?);
        let installed = self.state.installed()?;
        let dangling: Vec<_> = images
            .into_iter()
            .filter(|i| i.tags.is_empty())
            .filter(|i| !containers.iter().any(|c| same_image(&c.image_id, &i.id)))
            .filter(|i| !installed.iter().any(|r| same_image(&r.image_id, &i.id)))
            .collect();
        let ids: Vec<String> = dangling.iter().map(|i| i.id.clone()).collect();
        let mut result = PruneResult {
            command: ["docker", "image", "prune", "-f"].map(String::from).to_vec(),
            images: ids.clone(),
            ..PruneResult::default()
        };
        if display || ids.is_empty() {
            return Ok(result);
        }
        let mut removes =
            format!("{} dangling image(s): {}", ids.len(), ids[..ids.len().min(SHOWN_IDS)].join(", "));
        if ids.len() > SHOWN_IDS {
            removes.push_str(&format!(" and {} more", ids.len() - SHOWN_IDS));
        }
        let removal = Removal {
            operation: "PruneImages",
            target: "dangling images".to_owned(),
            argv: result.command.clone(),
            removes,
            other_callers: vec![],
            image_id: None,
        };
        let job = self.authorize_removal(caller, &removal).await?;
        result.images.clear();
        for image in dangling {
            job.report(-1.0, &format!("removing {}", image.id)).await;
            // A container made from it since the list was taken: the engine refuses, and it stays.
            match self.engine.remove_image(&image.id).await {
                Ok(_) => {
                    result.reclaimed += image.size;
                    result.images.push(image.id);
                }
                Err(e) => result.warnings.push(format!("image {} stays: {e}", image.id)),
            }
        }
        Ok(result)
    }

    /// TrimContainers: fstrim on the filesystems under atomicd's running containers (another
    /// caller's too, with manage-any), each filesystem once; nothing runs: nothing is asked.
    pub async fn trim_containers(&self, caller: &Caller, display: bool) -> Result<TrimResult> {
        let running: Vec<ContainerSummary> = self
            .engine
            .list_containers()
            .await?
            .into_iter()
            .filter(|c| c.running && c.owner.is_some())
            .collect();
        let mut result = TrimResult::default();
        let (mut dirs, mut other_callers) = (Vec::new(), Vec::new());
        for c in &running {
            // Inspected for its storage; gone since the list was taken: nothing of it to trim.
            let Some(info) = self.engine.find_container(&c.name).await? else { continue };
            let Some(owner) = info.owner else { continue };
            let Some(rootfs) = info.rootfs.filter(|r| r.starts_with('/')) else {
                result
                    .warnings
                    .push(format!("container {}: the engine does not say where its files are", c.name));
                continue;
            };
            if owner.caller_uid != caller.uid && !other_callers.contains(&owner.caller_uid) {
                other_callers.push(owner.caller_uid);
            }
            result.containers.push(c.name.clone());
            dirs.push(rootfs);
        }
        result.command = ["fstrim", "-v"].into_iter().map(String::from).chain(dirs.iter().cloned()).collect();
        if display || dirs.is_empty() {
            return Ok(result);
        }
        let removal = Removal {
            operation: "TrimContainers",
            target: "running containers".to_owned(),
            argv: result.command.clone(),
            removes: format!(
                "the unused blocks under {} running container(s): {}",
                result.containers.len(),
                crate::text::visible(&result.containers.join(", "))
            ),
            other_callers,
            image_id: None,
        };
        let _job = self.authorize_removal(caller, &removal).await?;
        for fs in self.trim.trim(&dirs).await {
            match fs.bytes {
                Ok(bytes) => result.trimmed += bytes,
                Err(why) => {
                    let dir = fs.dirs.first().map_or("", String::as_str);
                    result.warnings.push(format!("{} not trimmed: {why}", crate::text::visible(dir)));
                }
            }
        }
        Ok(result)
    }
}
