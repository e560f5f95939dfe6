//! The `a{sv}` options of every method as typed structs, shared by the service, the proxy, the CLI
//! and the tests, with the checks every dictionary passes before it is read; the D-Bus layer
//! turns each into the manager's request (`dbus/requests.rs`).

use std::collections::HashMap;

use zbus::zvariant::{self, DeserializeDict, OwnedFd, SerializeDict, Type, Value};

use crate::error::{Error, Result};

mod apps;
pub use apps::{AppPolicySettings, AppStartOptions, AppStopOptions, AppUpdateOptions};

/// Run's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunOptions {
    /// The words of the RUN_OPTS_FILE the RUN label names, read by the caller: they stand where
    /// `${RUN_OPTS}` does.
    pub run_opts: Option<Vec<String>>,
    /// Run as a super-privileged container.
    pub spc: Option<bool>,
    /// The container name instead of the image's.
    pub name: Option<String>,
    /// Resolve and answer; nothing runs.
    pub display: Option<bool>,
    /// Reply once the container is started.
    pub detach: Option<bool>,
    /// Remove atomicd's container of that name first.
    pub replace: Option<bool>,
    /// `$OPT1`
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
    /// Where the container's stdin comes from.
    pub stdin: Option<OwnedFd>,
    /// Where its stdout goes.
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes.
    pub stderr: Option<OwnedFd>,
    /// Give the container a terminal.
    pub tty: Option<bool>,
    /// The terminal's rows and columns.
    pub tty_size: Option<(u16, u16)>,
    /// The caller's working directory, absolute, for `$PWD`.
    pub pwd: Option<String>,
    /// `$SUDO_UID` (root callers only).
    pub sudo_uid: Option<u32>,
    /// `$SUDO_GID` (root callers only).
    pub sudo_gid: Option<u32>,
    /// Contents of the env files the line names, by path.
    pub env_files: Option<HashMap<String, String>>,
    /// Pull the image when it is not here (default true).
    pub pull: Option<bool>,
}

/// Pull's options: none yet; an unknown key is still refused.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct PullOptions {}

/// Info's options: what the labels are resolved with.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct InfoOptions {
    /// The container name instead of the image's.
    pub name: Option<String>,
    /// `$OPT1`
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
}

/// Update's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpdateOptions {
    /// Remove atomicd's containers of the old image.
    pub force: Option<bool>,
    /// Run the old UNINSTALL and the new INSTALL label, and move the record.
    pub reinstall: Option<bool>,
}

/// RemoveContainer's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct RemoveContainerOptions {
    /// Remove it though it runs (the engine kills it first).
    pub force: Option<bool>,
    /// Answer what would be removed; nothing is.
    pub display: Option<bool>,
}

/// RemoveImage's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct RemoveImageOptions {
    /// Remove it though an installed application uses it (never a container's image).
    pub force: Option<bool>,
    /// Answer what would be removed; nothing is.
    pub display: Option<bool>,
}

/// PruneImages' options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct PruneOptions {
    /// Answer what would be removed; nothing is.
    pub display: Option<bool>,
}

/// TrimContainers' options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrimOptions {
    /// Answer what would be trimmed; nothing is.
    pub display: Option<bool>,
}

/// Stop's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct StopOptions {
    /// Seconds between SIGTERM and SIGKILL, when there is no STOP label (default 10).
    pub timeout: Option<u32>,
    /// Resolve and answer; nothing is stopped.
    pub display: Option<bool>,
    /// `$OPT1` for the STOP label.
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
}

/// HostDeploy's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeployOptions {
    /// Reboot into the new deployment once it is written.
    pub reboot: Option<bool>,
}

/// HostRebase's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct RebaseOptions {
    /// Reboot into the new deployment once it is written.
    pub reboot: Option<bool>,
    /// A version or checksum of the new origin (bootc: an image digest) instead of its latest.
    pub revision: Option<String>,
}

/// HostCleanup's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct CleanupOptions {
    /// Remove the rollback deployment.
    pub rollback: Option<bool>,
    /// Remove the pending (staged) deployment.
    pub pending: Option<bool>,
}

/// ListImages' and ListContainers' options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct ListOptions {
    /// Images: intermediate ones too. Containers: those atomicd did not make too.
    pub all: Option<bool>,
}

/// Install's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct InstallOptions {
    /// The container name instead of the image's.
    pub name: Option<String>,
    /// Words appended after the INSTALL label's image, each one word.
    pub args: Option<Vec<String>>,
    /// Resolve and answer; nothing runs.
    pub display: Option<bool>,
    /// `$OPT1`
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
    /// Where the INSTALL container's stdout goes.
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes.
    pub stderr: Option<OwnedFd>,
    /// Pull first (default true).
    pub pull: Option<bool>,
    /// Contents of the env files the line names, by path.
    pub env_files: Option<HashMap<String, String>>,
    /// The caller's working directory, absolute, for `$PWD`.
    pub pwd: Option<String>,
    /// `$SUDO_UID` (root callers only).
    pub sudo_uid: Option<u32>,
    /// `$SUDO_GID` (root callers only).
    pub sudo_gid: Option<u32>,
    /// Run the RUN line as a service from a unit (absent: the image's `org.atomic.service`).
    pub service: Option<bool>,
}

/// Help's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct HelpOptions {
    /// The container name instead of the image's.
    pub name: Option<String>,
    /// `$OPT1`
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
    /// Where the HELP container's stdout goes.
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes.
    pub stderr: Option<OwnedFd>,
    /// Contents of the env files the line names, by path.
    pub env_files: Option<HashMap<String, String>>,
    /// The caller's working directory, absolute, for `$PWD`.
    pub pwd: Option<String>,
    /// `$SUDO_UID` (root callers only).
    pub sudo_uid: Option<u32>,
    /// `$SUDO_GID` (root callers only).
    pub sudo_gid: Option<u32>,
}

/// Uninstall's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct UninstallOptions {
    /// The container name instead of the image's.
    pub name: Option<String>,
    /// Words appended after the UNINSTALL label's image, each one word.
    pub args: Option<Vec<String>>,
    /// Resolve and answer; nothing runs.
    pub display: Option<bool>,
    /// Remove running containers; run the UNINSTALL label without an installation record.
    pub force: Option<bool>,
    /// Keep the image.
    pub keep_image: Option<bool>,
    /// `$OPT1`
    pub opt1: Option<String>,
    /// `$OPT2`
    pub opt2: Option<String>,
    /// `$OPT3`
    pub opt3: Option<String>,
    /// Where the UNINSTALL container's stdout goes.
    pub stdout: Option<OwnedFd>,
    /// Where its stderr goes.
    pub stderr: Option<OwnedFd>,
    /// Contents of the env files the line names, by path.
    pub env_files: Option<HashMap<String, String>>,
    /// The caller's working directory, absolute, for `$PWD`.
    pub pwd: Option<String>,
    /// `$SUDO_UID` (root callers only).
    pub sudo_uid: Option<u32>,
    /// `$SUDO_GID` (root callers only).
    pub sudo_gid: Option<u32>,
}

/// HostUpgrade's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpgradeOptions {
    /// Only look for an update.
    pub check: Option<bool>,
    /// Reboot into the new deployment.
    pub reboot: Option<bool>,
}

/// Rollback's options.
#[derive(Debug, Default, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct RollbackOptions {
    /// Reboot into the previous deployment.
    pub reboot: Option<bool>,
}

/// The most the `env-files` option may hold, paths and contents of every file together: env
/// files are a few lines of settings, and the whole option is held while polkit is asked.
pub const ENV_FILES_MAX: usize = 1024 * 1024;
/// The most any other option may hold.
pub const OPTION_MAX: usize = 64 * 1024;

/// The bytes of text a value holds (strings, object paths, signatures, all the way down), counted
/// without copying, and no further than `limit`.
fn text_bytes(value: &Value<'_>, limit: usize) -> usize {
    let mut total = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Str(s) => total += s.len(),
            Value::ObjectPath(p) => total += p.len(),
            Value::Signature(s) => total += s.to_string().len(),
            Value::Value(inner) => stack.push(inner),
            // Each element counts a byte too: a million empty strings are not nothing.
            Value::Array(a) => {
                total += a.len();
                stack.extend(a.iter());
            }
            Value::Dict(d) => stack.extend(d.iter().flat_map(|(k, v)| [k, v])),
            Value::Structure(s) => stack.extend(s.fields()),
            _ => total += 8,
        }
        if total > limit {
            break;
        }
    }
    total
}

/// Checks an `a{sv}` against `T` one key at a time, so an unknown key or a value of the wrong
/// type is refused with a sentence naming that key (serde's own errors name no key for a type
/// mismatch). Sizes come first, before any value is copied: a caller polkit has not heard of yet
/// must not make atomicd allocate much more than its message.
pub fn check<T>(options: &zvariant::Dict<'_, '_>) -> Result<()>
where
    T: for<'de> serde::Deserialize<'de> + Type,
{
    for (key, value) in options.iter() {
        let key_text = match key {
            Value::Str(s) => s.as_str().to_owned(),
            other => other.to_string(),
        };
        // An `a{sv}` holds each value inside its variant.
        let value = match value {
            Value::Value(inner) => inner,
            other => other,
        };
        let limit = if key_text == "env-files" { ENV_FILES_MAX } else { OPTION_MAX };
        let bytes = text_bytes(value, limit);
        if bytes > limit {
            return Err(Error::InvalidArgument(format!(
                "option {:?} holds more than {limit} bytes; at most {limit} are accepted{}",
                crate::text::truncate_for_message(&key_text),
                if key_text == "env-files" { " for all env files together" } else { "" }
            )));
        }
        let one = HashMap::from([(key_text.as_str(), value.try_clone().map_err(invalid)?)]);
        decode::<T>(&one).map_err(|e| {
            Error::InvalidArgument(format!("option {:?}: {e}", crate::text::truncate_for_message(&key_text)))
        })?;
    }
    Ok(())
}

/// `dict` read as `T`, through the wire format as zbus would read it.
fn decode<T>(dict: &HashMap<&str, Value<'_>>) -> zvariant::Result<T>
where
    T: for<'de> serde::Deserialize<'de> + Type,
{
    let ctxt = zvariant::serialized::Context::new_dbus(zvariant::LE, 0);
    zvariant::to_bytes(ctxt, dict)?.deserialize::<T>().map(|(value, _)| value)
}

fn invalid(e: zvariant::Error) -> Error {
    Error::InvalidArgument(e.to_string())
}

/// SetUpdatePolicy's settings: the keys of the `[updates]` table and its `fleet-lock` and
/// `etcd` parts; those left out keep what the other files say.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "kebab-case", deny_unknown_fields)]
pub struct PolicySettings {
    /// none, check, stage or apply.
    pub policy: Option<String>,
    /// immediate, periodic, fleet-lock or etcd.
    pub strategy: Option<String>,
    /// How often to check, e.g. "1h".
    pub interval: Option<String>,
    /// The reboot group (fleet-lock and etcd).
    pub group: Option<String>,
    /// The FleetLock server.
    pub base_url: Option<String>,
    /// etcd's client URLs.
    pub endpoints: Option<Vec<String>>,
    /// The etcd semaphore's slots.
    pub slots: Option<u32>,
}

/// TrustAdd's requirement: the keys of a containers-policy.json(5) requirement, as the file
/// spells them.
#[derive(Debug, Default, Clone, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRequirement {
    /// signedBy, sigstoreSigned, insecureAcceptAnything or reject.
    #[zvariant(rename = "type")]
    pub kind: Option<String>,
    /// GPGKeys (signedBy; the default).
    pub key_type: Option<String>,
    /// A key file.
    pub key_path: Option<String>,
    /// Key files.
    pub key_paths: Option<Vec<String>>,
    /// A key, base64.
    pub key_data: Option<String>,
    /// Keys, base64 (sigstoreSigned).
    pub key_datas: Option<Vec<String>>,
    /// The identity rule: type s, dockerReference s, dockerRepository s, prefix s, signedPrefix s.
    pub signed_identity: Option<HashMap<String, String>>,
    /// Not a policy key: where the scope's GPG signatures are, written to atomicd's own
    /// registries.d file (`atomic-trust.yaml`).
    pub lookaside: Option<String>,
}

impl TrustRequirement {
    /// The requirement as the policy file's JSON, for the policy's own rules to read.
    pub fn into_input(self) -> (crate::trust::RequirementInput, Option<String>) {
        use serde_json::Value as J;
        let mut out = serde_json::Map::new();
        let mut put = |key: &str, value: Option<J>| {
            if let Some(v) = value {
                out.insert(key.to_owned(), v);
            }
        };
        let list = |v: Vec<String>| J::Array(v.into_iter().map(J::String).collect());
        put("type", self.kind.map(J::String));
        put("keyType", self.key_type.map(J::String));
        put("keyPath", self.key_path.map(J::String));
        put("keyPaths", self.key_paths.map(list));
        put("keyData", self.key_data.map(J::String));
        put("keyDatas", self.key_datas.map(list));
        put(
            "signedIdentity",
            self.signed_identity.map(|m| J::Object(m.into_iter().map(|(k, v)| (k, J::String(v))).collect())),
        );
        (out, self.lookaside)
    }
}

#[cfg(test)]
mod tests;
