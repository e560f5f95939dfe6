//! atomicd's persistent state: the installation records, written atomically so a crash leaves
//! either the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

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

impl StateStore {
    /// A store in `dir`, created when missing; stale temporary files of a crashed write are removed.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create state directory {}", dir.display()), e))?;
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&format!(".{INSTALLED}.")) {
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

    /// Every installation; none when the file does not exist yet.
    pub fn installed(&self) -> Result<Vec<Installation>> {
        let path = self.dir.join(INSTALLED);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<StateFile>(&bytes)
                .map(|s| s.installed)
                .map_err(|e| Error::Failed(format!("{} is not valid: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Replaces the installation list: temp file, fsync, rename, fsync of the directory.
    pub fn save_installed(&self, installed: &[Installation]) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&StateFile { installed: installed.to_vec() })
            .map_err(|e| Error::Failed(format!("cannot encode state: {e}")))?;
        let path = self.dir.join(INSTALLED);
        let tmp = self.dir.join(format!(".{INSTALLED}.{}", std::process::id()));
        let fail = |what: &str, e: std::io::Error| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("cannot {what} {}", path.display()), e)
        };
        let mut file = File::create(&tmp).map_err(|e| fail("write", e))?;
        file.write_all(&bytes).map_err(|e| fail("write", e))?;
        file.sync_all().map_err(|e| fail("sync", e))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| fail("replace", e))?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_and_torn_temp_files_are_cleaned() {
        let dir = std::env::temp_dir().join(format!("atomicd-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = StateStore::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.installed().unwrap_or_else(|e| panic!("{e}")).is_empty());
        let rec = Installation {
            image: "tools".into(),
            image_id: "sha256:1".into(),
            name: "tools".into(),
            installed_at: 1,
            installed_by: 0,
        };
        store.save_installed(std::slice::from_ref(&rec)).unwrap_or_else(|e| panic!("{e}"));
        let torn = dir.join(".installed.json.999");
        fs::write(&torn, b"{\"insta").unwrap_or_else(|e| panic!("{e}"));
        let reopened = StateStore::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reopened.installed().unwrap_or_else(|e| panic!("{e}")), vec![rec]);
        assert!(!torn.exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
