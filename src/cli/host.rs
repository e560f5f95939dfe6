//! `atomic host ...`: status with the cached update, upgrade, rollback, deploy, rebase, pin,
//! cleanup; each prints a sentence, or the answer whole with `--json`.

use std::collections::HashMap;

use serde_json::Value;
use zbus::zvariant::OwnedValue;

use super::args::HostCommand;
use super::{flag, follow, render, Failure};
use crate::dbus::proxy::{
    dict_to_json, CleanupOptions, DeployOptions, ManagerProxy, PolicySettings, RebaseOptions,
    RollbackOptions, UpgradeOptions,
};

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Runs one `atomic host` command.
pub(super) async fn dispatch(proxy: &ManagerProxy<'_>, command: HostCommand) -> Result<u8, Failure> {
    match command {
        HostCommand::Status(a) => status(proxy, a.json).await?,
        HostCommand::Upgrade { check, reboot, json } => upgrade(proxy, check, reboot, json.json).await?,
        HostCommand::Rollback { reboot, json } => {
            let options = RollbackOptions { reboot: flag(reboot) };
            if json.json {
                print_whole(proxy, proxy.rollback_dict(&options)).await?;
            } else {
                let answer = follow(proxy, false, proxy.rollback(&options)).await?;
                println!("{}", render::deployed("Rolled back to", &answer.deployment, reboot));
            }
        }
        HostCommand::Deploy { revision, reboot, json } => {
            let options = DeployOptions { reboot: flag(reboot) };
            if json.json {
                print_whole(proxy, proxy.host_deploy_dict(&revision, &options)).await?;
            } else {
                let answer = follow(proxy, false, proxy.host_deploy(&revision, &options)).await?;
                println!("{}", render::deployed("Deployed", &answer.deployment, reboot));
            }
        }
        HostCommand::Rebase { origin, revision, reboot, json } => {
            let options = RebaseOptions { reboot: flag(reboot), revision };
            if json.json {
                print_whole(proxy, proxy.host_rebase_dict(&origin, &options)).await?;
            } else {
                let answer = follow(proxy, false, proxy.host_rebase(&origin, &options)).await?;
                println!("{}", render::deployed("Rebased to", &answer.deployment, reboot));
            }
        }
        HostCommand::Updates { policy, strategy, interval, group, base_url, endpoints, slots, json } => {
            let endpoints = (!endpoints.is_empty()).then_some(endpoints);
            let settings = PolicySettings { policy, strategy, interval, group, base_url, endpoints, slots };
            updates(proxy, &settings, json.json).await?;
        }
        // Dispatched before the bus is opened (cli::fleet).
        HostCommand::Fleet(command) => return super::fleet::through_atomicd(proxy, command).await,
        HostCommand::Pin { id } => {
            proxy.host_pin(&id, true).await?;
            println!("Pinned {id}.");
        }
        HostCommand::Unpin { id } => {
            proxy.host_pin(&id, false).await?;
            println!("Unpinned {id}.");
        }
        HostCommand::Cleanup { rollback, pending, json } => {
            // Without a choice, the rollback deployment goes, as `rpm-ostree cleanup -r`.
            let options = CleanupOptions { rollback: Some(rollback || !pending), pending: flag(pending) };
            if json.json {
                print_whole(proxy, proxy.host_cleanup_dict(&options)).await?;
            } else {
                let removed = follow(proxy, false, proxy.host_cleanup(&options)).await?.removed;
                if removed.is_empty() {
                    println!("Nothing to remove.");
                } else {
                    println!("Removed {}.", removed.join(", "));
                }
            }
        }
    }
    Ok(0)
}

/// Follows a job's call and prints its answer whole, for `--json`.
async fn print_whole(
    proxy: &ManagerProxy<'_>,
    call: impl std::future::Future<Output = zbus::Result<HashMap<String, OwnedValue>>>,
) -> Result<(), Failure> {
    print_json(&dict_to_json(&follow(proxy, false, call).await?));
    Ok(())
}

/// `atomic host status`: the deployments and the update the last check found.
async fn status(proxy: &ManagerProxy<'_>, json: bool) -> Result<(), Failure> {
    if json {
        let mut host = dict_to_json(&proxy.status_dict().await?)["host"].clone();
        host["cached-update"] = dict_to_json(&proxy.cached_update_dict().await.unwrap_or_default());
        print_json(&host);
    } else {
        let host = proxy.status().await?.host;
        print!("{}", render::host_status(&host, &proxy.cached_update().await.unwrap_or_default()));
    }
    Ok(())
}

/// `atomic host upgrade [--check]`.
async fn upgrade(proxy: &ManagerProxy<'_>, check: bool, reboot: bool, json: bool) -> Result<(), Failure> {
    let options = UpgradeOptions { check: flag(check), reboot: flag(reboot) };
    if json {
        return print_whole(proxy, proxy.host_upgrade_dict(&options)).await;
    }
    let answer = follow(proxy, false, proxy.host_upgrade(&options)).await?;
    if check {
        let line = answer.update.as_ref().and_then(render::available);
        println!("{}", line.as_deref().unwrap_or("No update available."));
    } else if answer.changed {
        println!("{}", render::deployed("Upgraded to", &answer.deployment.unwrap_or_default(), reboot));
    } else {
        println!("No upgrade available.");
    }
    Ok(())
}

/// `atomic host updates`: changes the policy when a setting is given, then shows it.
async fn updates(proxy: &ManagerProxy<'_>, settings: &PolicySettings, json: bool) -> Result<(), Failure> {
    let changing = settings.policy.is_some()
        || settings.strategy.is_some()
        || settings.interval.is_some()
        || settings.group.is_some()
        || settings.base_url.is_some()
        || settings.endpoints.is_some()
        || settings.slots.is_some();
    if changing {
        proxy.set_update_policy(settings).await?;
    }
    if json {
        print_json(&dict_to_json(&proxy.status_dict().await?)["host"]["updates"]);
    } else {
        print!("{}", render::updates(&proxy.status().await?.host.updates.unwrap_or_default()));
    }
    Ok(())
}
