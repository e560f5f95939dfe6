//! The env files a label's line reads, read by the CLI with the caller's own rights (atomicd reads
//! no files for callers) and sent only when the caller can be taken to mean it: a file named with
//! `--allow-env-file`, or one under a working directory that is a project's own. From `/`, the
//! caller's home or a system directory, "under the working directory" would cover the caller's
//! secrets (`~/.ssh`, `/etc/shadow`): there, only `--allow-env-file` sends a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::job::printable;
use super::Failure;

/// Directories no project lives in: a working directory equal to one of these, or inside one of
/// the trees of [`SYSTEM_TREES`], does not make the files under it the caller's to send.
const SYSTEM_DIRS: &[&str] = &[
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log",
    "/var/tmp",
];

/// Trees of system files, whatever directory inside them the caller stands in.
const SYSTEM_TREES: &[&str] = &["/boot", "/dev", "/etc", "/proc", "/root", "/run", "/sys", "/usr"];

/// Whether files under `cwd` count as the caller's project files: not when `cwd` is `/`, one of
/// the caller's `homes`, or a system directory.
pub(super) fn is_project_dir(cwd: &Path, homes: &[PathBuf]) -> bool {
    let system =
        SYSTEM_DIRS.iter().any(|d| cwd == Path::new(d)) || SYSTEM_TREES.iter().any(|t| cwd.starts_with(t));
    !system && !homes.iter().any(|h| cwd == h)
}

/// The caller's home directory, as the system's account database and `$HOME` say.
fn home_dirs() -> Vec<PathBuf> {
    let (_, account_home) = crate::system::caller::account(nix::unistd::getuid().as_raw());
    account_home
        .into_iter()
        .chain(std::env::var("HOME").ok())
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect()
}

/// The contents of `paths` (relative ones from the working directory), each said on stderr as it
/// is sent; a file outside what the caller can be taken to mean is a refusal naming the flag.
pub(super) fn read(paths: &[String], allowed: &[PathBuf]) -> Result<HashMap<String, String>, Failure> {
    let real = |p: &Path| std::fs::canonicalize(p).ok();
    let cwd = std::env::current_dir().ok().and_then(|d| real(&d));
    let homes = home_dirs();
    let project = cwd.as_deref().filter(|cwd| is_project_dir(cwd, &homes));
    let allowed: Vec<PathBuf> = allowed.iter().filter_map(|p| real(p)).collect();
    let mut files = HashMap::new();
    for path in paths {
        let shown = printable(path);
        let resolved = real(Path::new(path))
            .ok_or_else(|| Failure::new(format!("cannot read env file {shown}: it does not exist"), 1))?;
        let inside = project.is_some_and(|dir| resolved.starts_with(dir));
        if !inside && !allowed.contains(&resolved) {
            let where_ = match project {
                Some(_) => "outside the working directory".to_owned(),
                None => format!(
                    "and the working directory ({}) is /, your home or a system directory, whose files \
                     are not sent by themselves",
                    cwd.as_deref().map_or_else(|| "unknown".into(), |d| printable(&d.to_string_lossy()))
                ),
            };
            return Err(Failure::new(
                format!(
                    "the label reads env file {shown}, {where_}; pass --allow-env-file {shown} to send its \
                     contents into the container"
                ),
                1,
            ));
        }
        let text = std::fs::read_to_string(&resolved)
            .map_err(|e| Failure::new(format!("cannot read env file {shown}: {e}"), 1))?;
        eprintln!("atomic: sending env file {shown} into the container");
        files.insert(path.clone(), text);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_project_s_directory_sends_the_files_under_it() {
        let home = [PathBuf::from("/home/u")];
        for broad in [
            "/",
            "/home/u",
            "/etc",
            "/etc/app",
            "/root",
            "/root/src",
            "/usr/share",
            "/var",
            "/tmp",
            "/home",
            "/run/user/1000",
        ] {
            assert!(!is_project_dir(Path::new(broad), &home), "{broad}");
        }
        for project in ["/home/u/src/app", "/srv/app", "/var/tmp/atomicd-app", "/opt/tool", "/work/main"] {
            assert!(is_project_dir(Path::new(project), &home), "{project}");
        }
    }
}
