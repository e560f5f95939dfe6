//! Discarding a filesystem's unused blocks (`fstrim`), as the original `atomic containers trim`
//! did for the storage under running containers: behind a trait, so the rules are tested on a
//! fake and only the real one runs util-linux's `fstrim`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use async_trait::async_trait;

use crate::error::{Error, Result};

/// What one filesystem gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    /// The directories given that live on it (the first is the one trimmed).
    pub dirs: Vec<String>,
    /// The bytes discarded, or why nothing was.
    pub bytes: std::result::Result<u64, String>,
}

/// Trims the filesystems the given directories live on, each once.
#[async_trait]
pub trait Trim: Send + Sync {
    /// One answer per filesystem, in the order its first directory was given.
    async fn trim(&self, dirs: &[String]) -> Vec<Trimmed>;
}

/// util-linux's `fstrim`, run with its arguments as words (no shell), once per filesystem.
pub(crate) struct Fstrim;

#[async_trait]
impl Trim for Fstrim {
    async fn trim(&self, dirs: &[String]) -> Vec<Trimmed> {
        let mut groups: Vec<Trimmed> = Vec::new();
        let mut by_device: BTreeMap<u64, usize> = BTreeMap::new();
        for dir in dirs {
            match std::fs::metadata(dir) {
                Ok(m) => match by_device.get(&m.dev()) {
                    Some(&i) => groups[i].dirs.push(dir.clone()),
                    None => {
                        by_device.insert(m.dev(), groups.len());
                        groups.push(Trimmed { dirs: vec![dir.clone()], bytes: Ok(0) });
                    }
                },
                Err(e) => groups.push(Trimmed { dirs: vec![dir.clone()], bytes: Err(e.to_string()) }),
            }
        }
        for group in groups.iter_mut().filter(|g| g.bytes.is_ok()) {
            group.bytes = fstrim(&group.dirs[0]).await.map_err(|e| e.to_string());
        }
        groups
    }
}

/// `fstrim -v -- DIR`, its count read from what it prints.
async fn fstrim(dir: &str) -> Result<u64> {
    let out = tokio::process::Command::new("fstrim")
        .args(["-v", "--", dir])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Error::Failed(format!("cannot run fstrim: {e}")))?;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Failed(crate::text::visible(why.trim()).into_owned()));
    }
    trimmed_bytes(&said)
        .ok_or_else(|| Error::Failed(format!("fstrim said {:?}", crate::text::visible(&said))))
}

/// The N of fstrim's `DIR: 1.2 GiB (1288490188 bytes) trimmed`.
fn trimmed_bytes(said: &str) -> Option<u64> {
    let (before, _) = said.rsplit_once(" bytes) trimmed")?;
    before.rsplit_once('(')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstrim_s_count_is_read_and_anything_else_is_not() {
        assert_eq!(trimmed_bytes("/var: 1.2 GiB (1288490188 bytes) trimmed\n"), Some(1_288_490_188));
        assert_eq!(trimmed_bytes("/a (b): 0 B (0 bytes) trimmed\n"), Some(0));
        assert_eq!(trimmed_bytes("/: 0 B (dry run) trimmed\n"), None);
        assert_eq!(trimmed_bytes("fstrim: /: the discard operation is not supported"), None);
    }

    #[tokio::test]
    async fn a_directory_that_is_not_there_is_said_and_not_trimmed() {
        let got = Fstrim.trim(&["/nonexistent/atomicd-trim".to_owned()]).await;
        assert_eq!(got.len(), 1);
        assert!(got[0].bytes.as_ref().is_err_and(|e| e.contains("No such file")), "{got:?}");
    }
}
