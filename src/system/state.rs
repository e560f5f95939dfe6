//! atomicd's persistent state: the installation records, the record of the containers atomicd
//! created, the installed applications, the host's cached update and the reboot marker, each written atomically so a crash
//! leaves either the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One installed image (API.md, Status `installed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// The image as the caller named it.
    pub image: String,
    /// The image id at install time.
    pub image_id: String,
    /// The container name used.
    pub name: String,
    /// Seconds since the epoch.
    pub installed_at: u64,
    /// The installing caller's uid.
    pub installed_by: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    installed: Vec<Installation>,
}

/// The state directory and the files in it.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

const INSTALLED: &str = "installed.json";
/// The containers atomicd created, by ID: the one source of "atomicd made this".
const CONTAINERS: &str = "containers.json";
/// The automatic update's staged version and its reboot slot.
const REBOOT_MARKER: &str = "reboot-marker.json";

/// An update staged by the automatic updates, the deployment it is, and the boot it was for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootMarker {
    /// The staged version (or checksum), as rounds say it.
    pub pending: String,
    /// The staged deployment's checksum: the record holds only while the host still has that
    /// deployment as its default ("" in a record of 0.1, which is then staged again).
    #[serde(default)]
    pub checksum: String,
    /// The boot ID of the boot the record was written (or its slot taken) in, never empty:
    /// another boot ID at start means the host rebooted, so a slot held goes back.
    pub boot_id: String,
    /// When the reboot slot was taken (seconds since the epoch); 0 while none is held.
    pub since: u64,
}

/// What the last HostUpgrade check found, until it is deployed or overtaken.
const CACHED_UPDATE: &str = "cached-update.json";

/// The applications installed as services: the plan each runs, its images and its policy.
const APPLICATIONS: &str = "applications.json";

/// Every file of the store, whose stale temporary files a start removes.
const FILES: [&str; 5] = [INSTALLED, CONTAINERS, CACHED_UPDATE, REBOOT_MARKER, APPLICATIONS];

/// A temporary file's name for one write of `file`: unique within the process as well as across
/// processes, so two writes at once never share (and tear) one temporary file.
pub(crate) fn temp_name(file: &str) -> String {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{file}.{}.{n}", std::process::id())
}

/// Replaces `path` so that a crash leaves the old file or the new one, never a torn one: a
/// temporary file beside it, fsync, rename, fsync of the directory. The state's files and the
/// signature policy atomicd edits are written this way.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    let fail = |what: &str, e: std::io::Error| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("cannot {what} {}", path.display()), e)
    };
    let mut out = File::create(&tmp).map_err(|e| fail("write", e))?;
    out.write_all(bytes).map_err(|e| fail("write", e))?;
    out.sync_all().map_err(|e| fail("sync", e))?;
    drop(out);
    fs::rename(&tmp, path).map_err(|e| fail("replace", e))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl StateStore {
    /// A store in `dir`, created when missing; stale temporary files of a crashed write are removed.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create state directory {}", dir.display()), e))?;
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if FILES.iter().any(|f| name.starts_with(&format!(".{f}."))) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(StateStore { dir: dir.to_owned() })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, file: &str) -> Result<Option<T>> {
        let path = self.dir.join(file);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<T>(&bytes)
                .map(Some)
                .map_err(|e| Error::Failed(format!("{} is not valid: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Replaces `file` atomically (see [`replace_file`]).
    fn write<T: Serialize>(&self, file: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| Error::Failed(format!("cannot encode state: {e}")))?;
        replace_file(&self.dir.join(file), &bytes)
    }

    fn sync_dir(&self) {
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
    }

    /// Every installation; none when the file does not exist yet.
    pub fn installed(&self) -> Result<Vec<Installation>> {
        Ok(self.read::<StateFile>(INSTALLED)?.map(|s| s.installed).unwrap_or_default())
    }

    /// Replaces the installation list.
    pub fn save_installed(&self, installed: &[Installation]) -> Result<()> {
        self.write(INSTALLED, &StateFile { installed: installed.to_vec() })
    }

    /// The record of the containers atomicd created, by container ID; empty when none was kept.
    pub fn containers<T: for<'de> Deserialize<'de>>(&self) -> Result<std::collections::BTreeMap<String, T>> {
        Ok(self.read(CONTAINERS)?.unwrap_or_default())
    }

    /// Replaces the record of atomicd's containers.
    pub fn save_containers<T: Serialize>(
        &self,
        records: &std::collections::BTreeMap<String, T>,
    ) -> Result<()> {
        self.write(CONTAINERS, records)
    }

    /// Moves an unreadable record of containers aside (kept for a person to look at), so that
    /// the next write does not overwrite it; returns where it went.
    pub fn set_containers_aside(&self) -> Option<PathBuf> {
        let aside = self.dir.join(format!("{CONTAINERS}.unreadable"));
        fs::rename(self.dir.join(CONTAINERS), &aside).ok().map(|()| aside)
    }

    /// The applications installed as services (the manager's own type), by name.
    pub fn applications<T: for<'de> Deserialize<'de>>(
        &self,
    ) -> Result<std::collections::BTreeMap<String, T>> {
        Ok(self.read(APPLICATIONS)?.unwrap_or_default())
    }

    /// Replaces the record of the applications.
    pub fn save_applications<T: Serialize>(
        &self,
        apps: &std::collections::BTreeMap<String, T>,
    ) -> Result<()> {
        self.write(APPLICATIONS, apps)
    }

    /// The update the last check found, if it is still kept (the host's own type: the store
    /// keeps it, and need not know it).
    pub fn cached_update<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.read(CACHED_UPDATE)
    }

    /// What the automatic updates wait for across restarts and reboots.
    pub fn reboot_marker(&self) -> Result<Option<RebootMarker>> {
        self.read(REBOOT_MARKER)
    }

    /// Keeps `marker`, or with `None` forgets it.
    pub fn save_reboot_marker(&self, marker: Option<&RebootMarker>) -> Result<()> {
        self.keep_or_forget(REBOOT_MARKER, marker)
    }

    /// Keeps `update`, or with `None` forgets it.
    pub fn save_cached_update<T: Serialize>(&self, update: Option<&T>) -> Result<()> {
        self.keep_or_forget(CACHED_UPDATE, update)
    }

    /// Replaces `file` with `value`, or with `None` removes it (a missing file is forgotten
    /// already).
    fn keep_or_forget<T: Serialize>(&self, file: &str, value: Option<&T>) -> Result<()> {
        let Some(value) = value else {
            return match fs::remove_file(self.dir.join(file)) {
                Ok(()) => {
                    self.sync_dir();
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(format!("cannot remove {file}"), e)),
            };
        };
        self.write(file, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_and_torn_temp_files_are_cleaned() {
        let dir = std::env::temp_dir().join(format!("atomicd-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = StateStore::open(&dir).unwrap();
        assert!(store.installed().unwrap().is_empty());
        let rec = Installation {
            image: "tools".into(),
            image_id: "sha256:1".into(),
            name: "tools".into(),
            installed_at: 1,
            installed_by: 0,
        };
        store.save_installed(std::slice::from_ref(&rec)).unwrap();
        let torn = dir.join(".installed.json.999");
        fs::write(&torn, b"{\"insta").unwrap();
        let reopened = StateStore::open(&dir).unwrap();
        assert_eq!(reopened.installed().unwrap(), vec![rec]);
        assert!(!torn.exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
