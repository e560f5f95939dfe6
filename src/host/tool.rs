//! What the backends driven through a CLI (rpm-ostree, bootc) share: their status read through
//! the mtime cache, read afresh after each operation of atomicd's own (whether it succeeded or
//! not, since a failed one may still have changed the deployments), and `ostree admin` for what
//! neither tool has a command of its own for (pins, bootc's undeploy).

use std::future::Future;
use std::path::Path;

use super::{command, Deployment, StatusCache};
use crate::error::{Error, Result};

/// One host tool, with how its status is asked for and read.
#[derive(Debug)]
pub(super) struct Tool {
    /// The tool (`rpm-ostree`, `bootc`).
    pub program: String,
    ostree: String,
    cache: StatusCache,
    status_args: &'static [&'static str],
    parse: fn(&str) -> Result<Vec<Deployment>>,
}

impl Tool {
    /// `program`, whose `status_args` answer is read by `parse`; `ostree` for `ostree admin`, on
    /// the host whose sysroot is at `sysroot`.
    pub(super) fn new(
        program: String,
        ostree: String,
        sysroot: &Path,
        status_args: &'static [&'static str],
        parse: fn(&str) -> Result<Vec<Deployment>>,
    ) -> Self {
        Tool { program, ostree, cache: StatusCache::for_sysroot(sysroot), status_args, parse }
    }

    /// The tool's status answer, as it printed it.
    pub(super) async fn status_json(&self) -> Result<String> {
        command::run(&self.program, self.status_args).await
    }

    /// The deployments, from the cache while `ostree/deploy` is unchanged.
    pub(super) async fn deployments(&self) -> Result<Vec<Deployment>> {
        self.cache.read(async { (self.parse)(&self.status_json().await?) }).await
    }

    /// The deployments read now, whatever the cache holds.
    pub(super) async fn fresh(&self) -> Result<Vec<Deployment>> {
        self.cache.forget();
        (self.parse)(&self.status_json().await?)
    }

    /// Runs an operation, then reads the deployments afresh; the operation's own error is
    /// reported when reading succeeded.
    pub(super) async fn then_fresh<T>(
        &self,
        operation: impl Future<Output = Result<T>>,
    ) -> Result<(T, Vec<Deployment>)> {
        let ran = operation.await;
        let after = self.fresh().await?;
        Ok((ran?, after))
    }

    /// `ostree admin ARGS... INDEX` for the deployment `id` (ostree counts default first, as
    /// both tools list them).
    pub(super) async fn ostree_admin(&self, args: &[&str], id: &str) -> Result<()> {
        let list = self.fresh().await?;
        let index = list
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| Error::InvalidArgument(format!("there is no deployment {id:?}")))?
            .to_string();
        let all: Vec<&str> = ["admin"].iter().chain(args).copied().chain([index.as_str()]).collect();
        let done = command::run(&self.ostree, &all).await.map(drop);
        self.cache.forget();
        done
    }
}
