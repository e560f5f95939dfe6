//! `atomic host ...`: status with the cached update, upgrade, rollback, deploy, rebase, pin,
//! cleanup; each prints a sentence, or the answer whole with `--json`.

use serde_json::Value;

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
pub async fn dispatch(proxy: &ManagerProxy<'_>, command: HostCommand) -> Result<u8, Failure> {
    match command {
        HostCommand::Status(a) => {
            let mut host = dict_to_json(&proxy.status().await?)["host"].clone();
            host["cached-update"] = dict_to_json(&proxy.cached_update().await.unwrap_or_default());
            if a.json {
                print_json(&host);
            } else {
                print!("{}", render::host_status(&host));
            }
        }
        HostCommand::Upgrade { check, reboot, json } => {
            let options = UpgradeOptions { check: flag(check), reboot: flag(reboot) };
            let answer = dict_to_json(&follow(proxy, false, proxy.host_upgrade(&options)).await?);
            if json.json {
                print_json(&answer);
            } else if check {
                match render::available(&answer["update"]) {
                    Some(line) => println!("{line}"),
                    None => println!("No update available."),
                }
            } else if answer["changed"] == true {
                println!("{}", render::deployed("Upgraded to", &answer["deployment"], reboot));
            } else {
                println!("No upgrade available.");
            }
        }
        HostCommand::Rollback { reboot, json } => {
            let options = RollbackOptions { reboot: flag(reboot) };
            let answer = dict_to_json(&follow(proxy, false, proxy.rollback(&options)).await?);
            show(&answer, json.json, "Rolled back to", reboot);
        }
        HostCommand::Deploy { revision, reboot, json } => {
            let options = DeployOptions { reboot: flag(reboot) };
            let r = follow(proxy, false, proxy.host_deploy_dict(&revision, &options)).await?;
            show(&dict_to_json(&r), json.json, "Deployed", reboot);
        }
        HostCommand::Rebase { origin, revision, reboot, json } => {
            let options = RebaseOptions { reboot: flag(reboot), revision };
            let r = follow(proxy, false, proxy.host_rebase_dict(&origin, &options)).await?;
            show(&dict_to_json(&r), json.json, "Rebased to", reboot);
        }
        HostCommand::Updates { policy, strategy, interval, group, base_url, endpoints, slots, json } => {
            let endpoints = (!endpoints.is_empty()).then_some(endpoints);
            let settings = PolicySettings { policy, strategy, interval, group, base_url, endpoints, slots };
            updates(proxy, &settings, json.json).await?;
        }
        // Dispatched before the bus is opened (cli::fleet).
        HostCommand::Fleet(command) => return super::fleet::dispatch(command).await,
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
            let r = dict_to_json(&follow(proxy, false, proxy.host_cleanup_dict(&options)).await?);
            let removed: Vec<&str> = r["removed"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if json.json {
                print_json(&r);
            } else if removed.is_empty() {
                println!("Nothing to remove.");
            } else {
                println!("Removed {}.", removed.join(", "));
            }
        }
    }
    Ok(0)
}

fn show(answer: &Value, json: bool, what: &str, reboot: bool) {
    if json {
        print_json(answer);
    } else {
        println!("{}", render::deployed(what, &answer["deployment"], reboot));
    }
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
    let block = dict_to_json(&proxy.status().await?)["host"]["updates"].clone();
    if json {
        print_json(&block);
    } else {
        print!("{}", render::updates(&block));
    }
    Ok(())
}
