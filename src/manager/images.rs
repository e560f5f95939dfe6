//! Images and containers as a UI and a script ask for them: Pull (also for a Run of an image
//! that is not here yet), Info (what each label would do, for this caller), and the lists.

use super::flight::Shared;
use super::jobs::{Job, Shown};
use super::plan::{self, Operation, RunShape};
use super::request::LabelInputs;
use super::{container_name, vars, Manager};
use crate::engine::{same_image, ImageInfo};
use crate::error::{Error, Result};
use crate::label::{find_label, ImageRef, LabelKind, LineMode};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::wire::results::{ContainerEntry, ImageEntry, InfoResult, InstalledBlock, LabelInfo, PullResult};

/// The labels ListImages reports an image to carry.
const LISTED_LABELS: [&str; 5] = ["RUN", "INSTALL", "UNINSTALL", "STOP", "HELP"];

impl Manager {
    /// Pull: exactly the reference (`latest` when it names no tag), as a job with progress.
    pub async fn pull_image(&self, caller: &Caller, image: &str) -> Result<PullResult> {
        let image = ImageRef::parse(image)?;
        let before = self.engine.inspect_image(image.as_str()).await.ok().map(|i| i.id);
        let (info, _job) = self.fetch(caller, &image, &[Action::Pull], "Pull").await?;
        let changed = before.as_deref().is_none_or(|old| !same_image(old, &info.id));
        Ok(PullResult { image_id: info.id, changed })
    }

    /// Pulls `image` once polkit allows every one of `actions` (the label is unknown until the
    /// image is here, so the image alone is authorized; a pull always needs `org.atomic.pull`,
    /// whatever else asked for it), as a job named `operation`, and inspects what arrived. The
    /// job is the caller's to go on with, or to drop.
    pub(super) async fn fetch(
        &self,
        caller: &Caller,
        image: &ImageRef,
        actions: &[Action],
        operation: &str,
    ) -> Result<(ImageInfo, Job)> {
        let pulls = image.pull_reference();
        let details = [("image", image.as_str()), ("pulls", pulls.as_str())];
        for action in actions {
            self.authority.check(caller, *action, &details).await?;
        }
        let job = self.jobs.start(operation, image.as_str(), caller, Shown::default()).await;
        self.pull(image, &job).await?;
        let info = self.engine.inspect_image(image.as_str()).await?;
        Ok((info, job))
    }

    /// The image as it is here, or pulled first when `pull` allows (never for `display`).
    pub(super) async fn image_for(&self, caller: &Caller, image: &ImageRef, pull: bool) -> Result<ImageInfo> {
        match self.engine.inspect_image(image.as_str()).await {
            // A Pull job of its own, before the run is planned and authorized.
            Err(Error::ImageNotFound(_)) if pull => {
                Ok(self.fetch(caller, image, &[Action::Pull], "Pull").await?.0)
            }
            other => other,
        }
    }

    /// Info: open to every caller, pulls nothing, changes nothing.
    pub async fn info(&self, caller: &Caller, image: &str, inputs: LabelInputs) -> Result<InfoResult> {
        let image = ImageRef::parse(image)?;
        // The image and the containers are independent questions: one round trip, not two.
        let (info, containers) =
            tokio::join!(self.engine.inspect_image(image.as_str()), self.shared_containers());
        let info = info?;
        let name = container_name(&image, &inputs, false)?;
        let vars = vars(caller, &image, &name, &inputs)?;
        let label = |kind: LabelKind| find_label(&info.labels, kind).map(str::to_owned);
        let shape =
            RunShape { spc: false, mode: LineMode::default(), command: &[], replace: false, selinux: false };
        let run = Some(described(label(LabelKind::Run), plan::run(image.clone(), &info, &vars, shape)));
        let line = |kind, operation| {
            let planned = plan::install_line(operation, kind, image.clone(), &info, &vars, &[]);
            label(kind).map(|raw| {
                described(Some(raw), planned.and_then(|p| p.ok_or_else(|| Error::Failed(String::new()))))
            })
        };
        let record = self
            .state
            .installed()?
            .into_iter()
            .find(|i| i.image == image.as_str() || same_image(&i.image_id, &info.id));
        let containers =
            containers?.into_iter().filter(|c| same_image(&c.image_id, &info.id)).map(|c| c.name).collect();
        let labelled = |key: &str| {
            info.labels
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let signature = self.trust.verify(image.as_str(), &info.repo_digests).await;
        Ok(InfoResult {
            signature: Some((&signature).into()),
            image: image.as_str().to_owned(),
            image_id: info.id.clone(),
            created: info.created,
            size: info.size,
            version: labelled("version"),
            help: labelled("help"),
            labels: info.labels.clone(),
            installed: record.map(InstalledBlock::from),
            containers,
            run,
            install: line(LabelKind::Install, Operation::Install),
            uninstall: line(LabelKind::Uninstall, Operation::Uninstall),
            stop: line(LabelKind::Stop, Operation::Stop),
        })
    }

    /// ListImages: every local image with which atomic labels it carries.
    pub async fn list_images(&self, all: bool) -> Result<Vec<ImageEntry>> {
        let records = self.state.installed()?;
        let engine = self.engine.clone();
        let images = self.image_lists[usize::from(all)]
            .run(move || async move { engine.list_images(all).await.map_err(Shared::from) })
            .await?;
        // Verified as the first tag names it, the policy read once for the whole list, a few
        // fetching at a time (the verifier bounds it), and from the cache for every image verified
        // before. An image without a tag names no repository: unverifiable.
        let tagged: Vec<(&str, &[String])> = images
            .iter()
            .filter_map(|i| Some((i.tags.first()?.as_str(), i.repo_digests.as_slice())))
            .collect();
        let mut verdicts = self.trust.verify_all(&tagged).await.into_iter();
        let unverifiable = crate::trust::State::Unverifiable;
        let verdicts: Vec<&str> = images
            .iter()
            .map(|i| match i.tags.first() {
                Some(_) => verdicts.next().map_or(unverifiable, |v| v.state).as_str(),
                None => unverifiable.as_str(),
            })
            .collect();
        Ok(images
            .into_iter()
            .zip(verdicts)
            .map(|(i, verified)| {
                let carries = |name: &&&str| i.labels.keys().any(|k| k.eq_ignore_ascii_case(name));
                let installed =
                    records.iter().any(|r| same_image(&r.image_id, &i.id) || i.tags.contains(&r.image));
                ImageEntry {
                    image: i.tags.first().cloned().unwrap_or_else(|| i.id.clone()),
                    labels: LISTED_LABELS.iter().filter(carries).map(|l| (*l).to_owned()).collect(),
                    installed,
                    verified: verified.to_owned(),
                    image_id: i.id,
                    created: i.created,
                    size: i.size,
                    tags: i.tags,
                }
            })
            .collect())
    }

    /// The engine's containers, one call shared by every open reader asking at the same time.
    async fn shared_containers(&self) -> Result<Vec<crate::engine::ContainerSummary>> {
        let engine = self.engine.clone();
        Ok(self
            .container_list
            .run(move || async move { engine.list_containers().await.map_err(Shared::from) })
            .await?)
    }

    /// ListContainers: atomicd's containers, or with `all` every container of the engine.
    pub async fn list_containers(&self, all: bool) -> Result<Vec<ContainerEntry>> {
        let containers = self.shared_containers().await?;
        Ok(containers
            .into_iter()
            .filter(|c| all || c.owner.is_some())
            .map(|c| ContainerEntry {
                managed: c.owner.is_some(),
                operation: c.owner.as_ref().map(|o| o.operation.clone()),
                started_by: c.owner.as_ref().map(|o| o.caller_uid),
                privileged: c.owner.as_ref().and_then(|o| o.privileged),
                name: c.name,
                container_id: c.id,
                image: c.image,
                image_id: c.image_id,
                state: c.state,
                exit_code: c.exit_code,
                created: c.created,
            })
            .collect())
    }
}

/// A label's resolution as Info reports it: its line and privileges, or why atomicd does not run it.
fn described(raw: Option<String>, planned: Result<plan::Plan>) -> LabelInfo {
    let label = raw.unwrap_or_default();
    match planned {
        Ok(p) => LabelInfo { label, command: p.argv, privileges: p.privileges, supported: true, error: None },
        Err(e) => LabelInfo { label, supported: false, error: Some(e.to_string()), ..LabelInfo::default() },
    }
}

/// The containers of an image about to be replaced: atomicd's (which `force` may remove) and
/// the engine's own (which it never touches).
#[derive(Debug, Default)]
pub(super) struct Outdated {
    /// atomicd's containers.
    pub mine: Vec<crate::engine::ContainerSummary>,
    /// Everyone else's.
    pub theirs: Vec<crate::engine::ContainerSummary>,
}

impl Outdated {
    /// Sorts containers by who made them. A finished `--rm` run of atomicd's is on its way out
    /// (removed after its reply), not a container still on the image.
    pub(super) fn of(containers: Vec<crate::engine::ContainerSummary>) -> Self {
        let leaving =
            |c: &crate::engine::ContainerSummary| !c.running && c.owner.as_ref().is_some_and(|o| o.remove);
        let (mine, theirs) = containers.into_iter().filter(|c| !leaving(c)).partition(|c| c.owner.is_some());
        Outdated { mine, theirs }
    }

    /// The names still on the old image: everyone else's, and atomicd's when they stay.
    pub(super) fn names(&self, with_mine: bool) -> Vec<String> {
        let mine = self.mine.iter().filter(|_| with_mine);
        mine.chain(&self.theirs).map(|c| c.name.clone()).collect()
    }
}
