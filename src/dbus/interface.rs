//! The `org.atomic.Manager` D-Bus object: reads the call, hands it to [`Manager`], and returns
//! its answer. No decisions are made here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zbus::message::Header;
use zbus::{interface, Connection};

use crate::error::Result;
use crate::manager::{journaled, Manager};
use crate::system::lifecycle::Activity;
use crate::wire::options::{
    AppPolicySettings, AppStartOptions, AppStopOptions, AppUpdateOptions, CleanupOptions, DeployOptions,
    HelpOptions, InfoOptions, InstallOptions, ListOptions, PolicySettings, PruneOptions, PullOptions,
    RebaseOptions, RemoveContainerOptions, RemoveImageOptions, RollbackOptions, RunOptions, StopOptions,
    TrimOptions, TrustRequirement, UninstallOptions, UpdateOptions, UpgradeOptions,
};
use crate::wire::results::{
    AppEntry, AppStartResult, AppStopResult, AppUpdateResult, CleanupResult, ContainerEntry, DeployResult,
    HelpResult, ImageEntry, InfoResult, InstallResult, PruneResult, PullResult, RemoveContainerResult,
    RemoveImageResult, RollbackResult, RunResult, StatusReport, StopResult, TrimResult, TrustReport,
    UninstallResult, UpdateBlock, UpdateResult, UpgradeResult,
};

/// The D-Bus face of [`Manager`].
pub struct ManagerInterface {
    manager: Arc<Manager>,
    activity: Arc<Activity>,
    // An atomic, not a field behind `get_mut`: zbus holds the interface's read lock for the
    // whole of every method call, so a writer waiting behind a long Run would hold up every
    // other caller until that Run ended.
    engine_available: AtomicBool,
}

mod acting;

#[interface(name = "org.atomic.Manager")]
impl ManagerInterface {
    /// Runs an image as its RUN label says, or by default, or as a super-privileged container.
    #[zbus(out_args("result"))]
    async fn run(
        &self,
        image: String,
        command: Vec<String>,
        options: RunOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<RunResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let request = options.into_request(image, command);
        journaled(self.manager.run(&caller, request)).await
    }

    /// Pulls an image, runs its INSTALL label and records the installation.
    #[zbus(out_args("result"))]
    async fn install(
        &self,
        image: String,
        options: InstallOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<InstallResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let request = options.into_request(image);
        journaled(self.manager.install(&caller, request)).await
    }

    /// Runs an image's UNINSTALL label, removes its containers and image, and drops the record.
    #[zbus(out_args("result"))]
    async fn uninstall(
        &self,
        image: String,
        options: UninstallOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<UninstallResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let request = options.into_request(image);
        journaled(self.manager.uninstall(&caller, request)).await
    }

    /// Shows an image's help: its HELP label run, or its /help.1 man page.
    #[zbus(out_args("result"))]
    async fn help(
        &self,
        image: String,
        options: HelpOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<HelpResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let request = options.into_request(image);
        journaled(self.manager.help(&caller, request)).await
    }

    /// Upgrades the image-based host.
    #[zbus(out_args("result"))]
    async fn host_upgrade(
        &self,
        options: UpgradeOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<UpgradeResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (check, reboot) = (options.check.unwrap_or(false), options.reboot.unwrap_or(false));
        journaled(self.manager.host_upgrade(&caller, check, reboot)).await
    }

    /// Makes the previous deployment the default.
    #[zbus(out_args("result"))]
    async fn rollback(
        &self,
        options: RollbackOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<RollbackResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.rollback(&caller, options.reboot.unwrap_or(false))).await
    }

    /// Deploys a version or checksum of the current origin.
    #[zbus(out_args("result"))]
    async fn host_deploy(
        &self,
        revision: String,
        options: DeployOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<DeployResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.host_deploy(&caller, &revision, options.reboot.unwrap_or(false))).await
    }

    /// Switches to another origin: an ostree refspec, or an image for rpm-ostree and bootc.
    #[zbus(out_args("result"))]
    async fn host_rebase(
        &self,
        origin: String,
        options: RebaseOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<DeployResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let reboot = options.reboot.unwrap_or(false);
        journaled(self.manager.host_rebase(&caller, &origin, options.revision.as_deref(), reboot)).await
    }

    /// Pins (or unpins) a deployment: cleanups and upgrades keep it.
    async fn host_pin(
        &self,
        id: String,
        pinned: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.host_pin(&caller, &id, pinned)).await
    }

    /// Removes the rollback and/or pending deployment; never the booted or a pinned one.
    #[zbus(out_args("result"))]
    async fn host_cleanup(
        &self,
        options: CleanupOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<CleanupResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.host_cleanup(&caller, options.into())).await
    }

    /// Pulls exactly the reference (`latest` when it names no tag), with progress on its job.
    #[zbus(out_args("result"))]
    async fn pull(
        &self,
        image: String,
        options: PullOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<PullResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let PullOptions {} = options;
        journaled(self.manager.pull_image(&caller, &image)).await
    }

    /// What an image is and what each of its labels would do for this caller; open to every caller.
    #[zbus(out_args("info"))]
    async fn info(
        &self,
        image: String,
        options: InfoOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<InfoResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.info(&caller, &image, options.into_inputs()).await
    }

    /// The local images, with the labels atomic acts on; open to every caller.
    #[zbus(out_args("images"))]
    async fn list_images(&self, options: ListOptions) -> Result<Vec<ImageEntry>> {
        let _busy = self.activity.enter();
        self.manager.list_images(options.all.unwrap_or(false)).await
    }

    /// The containers atomicd made (with `all`, every container); open to every caller.
    #[zbus(out_args("containers"))]
    async fn list_containers(&self, options: ListOptions) -> Result<Vec<ContainerEntry>> {
        let _busy = self.activity.enter();
        self.manager.list_containers(options.all.unwrap_or(false)).await
    }

    /// Pulls an image anew: the old and new ids and what still runs the old one.
    #[zbus(out_args("result"))]
    async fn update(
        &self,
        image: String,
        options: UpdateOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<UpdateResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (force, reinstall) = (options.force.unwrap_or(false), options.reinstall.unwrap_or(false));
        journaled(self.manager.update(&caller, &image, force, reinstall)).await
    }

    /// Stops a container atomicd made: its image's STOP label, else a stop with a grace period.
    #[zbus(out_args("result"))]
    async fn stop(
        &self,
        name: String,
        options: StopOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<StopResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (timeout, display, inputs) = options.into_parts();
        journaled(self.manager.stop(&caller, &name, timeout, display, inputs)).await
    }

    /// Removes a container atomicd made.
    #[zbus(out_args("result"))]
    async fn remove_container(
        &self,
        name: String,
        options: RemoveContainerOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<RemoveContainerResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (force, display) = (options.force.unwrap_or(false), options.display.unwrap_or(false));
        journaled(self.manager.remove_container(&caller, &name, force, display)).await
    }

    /// Removes an image no container and no installed application uses.
    #[zbus(out_args("result"))]
    async fn remove_image(
        &self,
        image: String,
        options: RemoveImageOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<RemoveImageResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (force, display) = (options.force.unwrap_or(false), options.display.unwrap_or(false));
        journaled(self.manager.remove_image(&caller, &image, force, display)).await
    }

    /// Removes the dangling images nothing uses.
    #[zbus(out_args("result"))]
    async fn prune_images(
        &self,
        options: PruneOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<PruneResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.prune_images(&caller, options.display.unwrap_or(false))).await
    }

    /// Discards unused blocks under atomicd's running containers.
    #[zbus(out_args("result"))]
    async fn trim_containers(
        &self,
        options: TrimOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<TrimResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.trim_containers(&caller, options.display.unwrap_or(false))).await
    }

    /// The applications installed as services; open to every caller.
    #[zbus(out_args("applications"))]
    async fn list_applications(&self) -> Result<Vec<AppEntry>> {
        let _busy = self.activity.enter();
        self.manager.list_applications().await
    }

    /// An application's unit starts it: atomicd runs its record and, with fds, follows it.
    #[zbus(out_args("result"))]
    async fn start_application(
        &self,
        name: String,
        options: AppStartOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<AppStartResult> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.start_application(&caller, &name, options.into())).await
    }

    /// An application's unit stops it.
    #[zbus(out_args("result"))]
    async fn stop_application(
        &self,
        name: String,
        options: AppStopOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<AppStopResult> {
        // No option is defined yet; the XML names the argument `options`.
        let AppStopOptions {} = options;
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.stop_application(&caller, &name)).await
    }

    /// Runs an application's image before its last update again.
    #[zbus(out_args("result"))]
    async fn rollback_application(
        &self,
        name: String,
        options: AppUpdateOptions,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<AppUpdateResult> {
        let AppUpdateOptions {} = options;
        let (_busy, caller) = self.acting(conn, &header).await?;
        journaled(self.manager.rollback_application(&caller, &name)).await
    }

    /// Sets an application's update policy (`[apps.NAME]` of the configuration).
    async fn set_application_policy(
        &self,
        name: String,
        policy: AppPolicySettings,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.set_application_policy(&caller, &name, &policy).await
    }

    /// Takes a slot of the fleet's reboot lock for another service of this host.
    #[zbus(out_args("held"))]
    async fn fleet_lock(
        &self,
        app_id: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<bool> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.fleet_lock(&caller, &app_id, true).await
    }

    /// Gives that slot back.
    async fn fleet_unlock(
        &self,
        app_id: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.fleet_lock(&caller, &app_id, false).await.map(|_| ())
    }

    /// Version, engine, host and installed images; open to every caller.
    #[zbus(out_args("status"))]
    async fn status(&self) -> Result<StatusReport> {
        let _busy = self.activity.enter();
        self.manager.status().await
    }

    /// Writes the automatic update policy's drop-in (keys as in the `[updates]` table) once the
    /// files with it make a usable configuration, and applies it.
    async fn set_update_policy(
        &self,
        settings: PolicySettings,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<()> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.set_update_policy(&caller, &settings).await
    }

    /// The signature policy as atomicd reads it; open to every caller (the policy is not secret).
    #[zbus(out_args("policy"))]
    async fn trust_show(&self) -> Result<TrustReport> {
        let _busy = self.activity.enter();
        Ok(self.manager.trust_show())
    }

    /// Makes `requirement` the docker scope's only requirement, then writes the policy file.
    #[zbus(out_args("policy"))]
    async fn trust_add(
        &self,
        scope: String,
        requirement: TrustRequirement,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<TrustReport> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        let (input, lookaside) = requirement.into_input();
        let edit = crate::trust::Edit::add(&scope, input, lookaside)?;
        self.manager.trust_edit(&caller, edit).await
    }

    /// Removes a docker scope from the policy.
    #[zbus(out_args("policy"))]
    async fn trust_remove(
        &self,
        scope: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<TrustReport> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.trust_edit(&caller, crate::trust::Edit::Remove { scope }).await
    }

    /// Sets the policy's default: `accept` (insecureAcceptAnything) or `reject`.
    #[zbus(out_args("policy"))]
    async fn trust_default(
        &self,
        default: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<TrustReport> {
        let (_busy, caller) = self.acting(conn, &header).await?;
        self.manager.trust_edit(&caller, crate::trust::Edit::default_named(&default)?).await
    }

    /// What changed (images, containers, installed, host): at most one signal per 250 ms.
    #[zbus(signal)]
    pub async fn changed(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        areas: Vec<&str>,
    ) -> zbus::Result<()>;

    /// atomicd's version.
    #[zbus(property)]
    fn version(&self) -> String {
        crate::VERSION.to_owned()
    }

    /// Whether the container engine answers.
    #[zbus(property)]
    fn engine_available(&self) -> bool {
        self.engine_available.load(Ordering::Relaxed)
    }

    /// What the last HostUpgrade check found and is not deployed yet; empty when none.
    #[zbus(property)]
    async fn cached_update(&self) -> UpdateBlock {
        self.cached_update_block().await
    }

    /// The host backend found at start.
    #[zbus(property)]
    fn host_backend(&self) -> String {
        self.manager.host_backend().to_owned()
    }
}
