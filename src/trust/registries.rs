//! registries.d(5): where a repository's GPG signatures are (`lookaside`) and whether its
//! cosign signatures are read from the registry (`use-sigstore-attachments`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::reference::Named;

/// One scope's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Lookaside {
    /// The URL signatures are read from (file://, http://, https://).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookaside: Option<String>,
    /// The old name of `lookaside`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore: Option<String>,
    /// Where signing tools write; atomicd only reads, so it is not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookaside_staging: Option<String>,
    /// The old name of `lookaside-staging`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore_staging: Option<String>,
    /// Read cosign signatures stored in the registry as attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_sigstore_attachments: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_docker: Option<Lookaside>,
    #[serde(default)]
    docker: BTreeMap<String, Lookaside>,
}

/// The one file of registries.d atomicd writes (TrustAdd's lookaside and attachments), so that
/// no file an admin wrote is ever rewritten.
pub(super) const OWN_FILE: &str = "atomic-trust.yaml";

/// Every file of the directory, merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Registries {
    default_docker: Option<Lookaside>,
    docker: BTreeMap<String, Lookaside>,
}

/// The largest registries.d file read.
const FILE_MAX: u64 = 1024 * 1024;

impl Registries {
    /// Reads every `*.yaml` of `dir`; a missing directory is an empty configuration. A scope
    /// two files name, or a second default, is an error, as for the containers tools.
    pub(crate) fn read(dir: &Path) -> Result<Registries, String> {
        Self::read_except(dir, None)
    }

    fn read_except(dir: &Path, skipped: Option<&str>) -> Result<Registries, String> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registries::default()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .filter(|p| skipped.is_none_or(|s| p.file_name().is_none_or(|n| n != s)))
            .collect();
        paths.sort();
        let mut merged = Registries::default();
        for path in paths {
            let text = super::read_bounded(&path, FILE_MAX)?;
            merged.add(&path.display().to_string(), &text)?;
        }
        Ok(merged)
    }

    /// Adds one file's text.
    pub(crate) fn add(&mut self, name: &str, text: &str) -> Result<(), String> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| format!("{name}: {e}"))?
        };
        if let Some(d) = file.default_docker {
            if self.default_docker.replace(d).is_some() {
                return Err(format!("{name}: default-docker is set in another file too"));
            }
        }
        for (scope, settings) in file.docker {
            if self.docker.insert(scope.clone(), settings).is_some() {
                return Err(format!("{name}: docker scope {scope:?} is set in another file too"));
            }
        }
        Ok(())
    }

    /// The settings of the most specific scope that names `named`'s repository.
    pub(crate) fn for_image(&self, named: &Named) -> Option<&Lookaside> {
        self.for_scope(&named.repository())
    }

    /// The settings of the most specific scope that covers `scope` (a registry, namespace or
    /// repository), the default last.
    pub(crate) fn for_scope(&self, scope: &str) -> Option<&Lookaside> {
        let mut prefix = scope;
        loop {
            if let Some(found) = self.docker.get(prefix) {
                return Some(found);
            }
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => break,
            }
        }
        self.default_docker.as_ref()
    }
}

/// The text of atomicd's own file once `scope` is set to `settings` (`None`: left out), over
/// what the other files say of it: the scope's settings there are kept, so a more specific
/// entry never hides a registry's lookaside. `None` when nothing changes. Refused when another
/// file names exactly this scope, which would make the whole directory unusable.
pub(super) fn own_file_with(
    dir: &Path,
    scope: &str,
    settings: Option<&Lookaside>,
) -> Result<Option<String>, String> {
    let own_path = dir.join(OWN_FILE);
    let mut own: File = match std::fs::read_to_string(&own_path) {
        Ok(text) if !text.trim().is_empty() => {
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", own_path.display()))?
        }
        _ => File::default(),
    };
    let others = Registries::read_except(dir, Some(OWN_FILE))?;
    let before = own.docker.get(scope).cloned();
    match settings {
        None => {
            own.docker.remove(scope);
        }
        Some(wanted) => {
            let inherited = others.for_scope(scope).cloned().unwrap_or_default();
            if let Some(theirs) = others.docker.get(scope) {
                let satisfied = wanted.url().is_none_or(|u| theirs.url() == Some(u))
                    && (wanted.use_sigstore_attachments.is_none()
                        || theirs.use_sigstore_attachments == wanted.use_sigstore_attachments);
                if satisfied {
                    return Ok(None);
                }
                return Err(format!(
                    "another file of {} sets docker scope {scope:?}: set lookaside and use-sigstore-attachments there",
                    dir.display()
                ));
            }
            let mut merged = inherited;
            if let Some(url) = wanted.url() {
                merged.lookaside = Some(url.to_owned());
                merged.sigstore = None;
            }
            if wanted.use_sigstore_attachments.is_some() {
                merged.use_sigstore_attachments = wanted.use_sigstore_attachments;
            }
            own.docker.insert(scope.to_owned(), merged);
        }
    }
    if own.docker.get(scope) == before.as_ref() {
        return Ok(None);
    }
    let text = serde_yaml_ng::to_string(&own).map_err(|e| e.to_string())?;
    Ok(Some(format!("# Written by atomicd (TrustAdd, TrustRemove); edit with atomic trust.\n{text}")))
}

impl Lookaside {
    /// The URL to read signatures from.
    pub(crate) fn url(&self) -> Option<&str> {
        self.lookaside.as_deref().or(self.sigstore.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_scope_says_where_signatures_are() {
        let mut r = Registries::default();
        let one = "docker:\n  127.0.0.1:5000:\n    lookaside: http://127.0.0.1:5080\n    lookaside-staging: file:///srv/sigs\n  127.0.0.1:5000/team:\n    use-sigstore-attachments: true\n";
        r.add("one.yaml", one).unwrap();
        r.add("two.yaml", "default-docker:\n  sigstore: file:///var/lib/sigs\n").unwrap();
        let named = |t: &str| Named::parse(t).unwrap_or_else(|| panic!("{t}"));
        let app = r.for_image(&named("127.0.0.1:5000/atomic-test/app:1"));
        assert_eq!(app.and_then(Lookaside::url), Some("http://127.0.0.1:5080"));
        let team = r.for_image(&named("127.0.0.1:5000/team/x"));
        assert_eq!(team.and_then(|l| l.use_sigstore_attachments), Some(true));
        assert_eq!(team.and_then(Lookaside::url), None, "the more specific scope is whole");
        assert_eq!(r.for_image(&named("busybox")).and_then(Lookaside::url), Some("file:///var/lib/sigs"));
        assert!(r.add("three.yaml", "default-docker: {}\n").is_err(), "a second default");
        assert!(r.add("four.yaml", "docker:\n  x.io:\n    lookasied: http://x\n").is_err(), "a misspelt key");
    }

    #[test]
    fn atomicd_writes_only_its_own_file_and_keeps_what_the_others_say() {
        let dir = std::env::temp_dir().join(format!("atomicd-registries-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("admin.yaml"), "docker:\n  reg.io:\n    lookaside: https://sigs.reg.io\n  reg.io/fixed:\n    use-sigstore-attachments: false\n")
            .unwrap();
        let cosign = Lookaside { use_sigstore_attachments: Some(true), ..Lookaside::default() };
        let text = own_file_with(&dir, "reg.io/team", Some(&cosign)).unwrap();
        let text = text.unwrap_or_else(|| panic!("nothing written"));
        std::fs::write(dir.join(OWN_FILE), &text).unwrap();
        let all = Registries::read(&dir).unwrap();
        let team = all.for_scope("reg.io/team/app");
        assert_eq!(
            team.and_then(Lookaside::url),
            Some("https://sigs.reg.io"),
            "the registry's lookaside is kept"
        );
        assert_eq!(team.and_then(|l| l.use_sigstore_attachments), Some(true));
        // The same again changes nothing; another file's exact scope is not overridden.
        assert_eq!(own_file_with(&dir, "reg.io/team", Some(&cosign)), Ok(None));
        assert!(own_file_with(&dir, "reg.io/fixed", Some(&cosign)).is_err_and(|e| e.contains("another file")));
        let removed = own_file_with(&dir, "reg.io/team", None).unwrap();
        assert!(removed.is_some_and(|t| !t.contains("reg.io/team")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
