//! registries.d(5): where a repository's GPG signatures are (`lookaside`) and whether its
//! cosign signatures are read from the registry (`use-sigstore-attachments`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::reference::Named;

/// One scope's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lookaside {
    /// The URL signatures are read from (file://, http://, https://).
    #[serde(default)]
    pub lookaside: Option<String>,
    /// The old name of `lookaside`.
    #[serde(default)]
    pub sigstore: Option<String>,
    /// Where signing tools write; atomicd only reads, so it is not used.
    #[serde(default)]
    pub lookaside_staging: Option<String>,
    /// The old name of `lookaside-staging`.
    #[serde(default)]
    pub sigstore_staging: Option<String>,
    /// Read cosign signatures stored in the registry as attachments.
    #[serde(default)]
    pub use_sigstore_attachments: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    default_docker: Option<Lookaside>,
    #[serde(default)]
    docker: BTreeMap<String, Lookaside>,
}

/// Every file of the directory, merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registries {
    default_docker: Option<Lookaside>,
    docker: BTreeMap<String, Lookaside>,
}

/// The largest registries.d file read.
const FILE_MAX: u64 = 1024 * 1024;

impl Registries {
    /// Reads every `*.yaml` of `dir`; a missing directory is an empty configuration. A scope
    /// two files name, or a second default, is an error, as for the containers tools.
    pub fn read(dir: &Path) -> Result<Registries, String> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registries::default()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
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
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), String> {
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
    pub fn for_image(&self, named: &Named) -> Option<&Lookaside> {
        let repository = named.repository();
        let mut prefix = repository.as_str();
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

impl Lookaside {
    /// The URL to read signatures from.
    pub fn url(&self) -> Option<&str> {
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
        r.add("one.yaml", one).unwrap_or_else(|e| panic!("{e}"));
        r.add("two.yaml", "default-docker:\n  sigstore: file:///var/lib/sigs\n")
            .unwrap_or_else(|e| panic!("{e}"));
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
}
