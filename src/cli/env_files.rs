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

/// The largest RUN_OPTS_FILE sent: a few options on a line or two, as the original read.
const RUN_OPTS_MAX: u64 = 64 * 1024;

fn real(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// Which files the caller can be taken to mean: those under a project's working directory, and
/// those named with `--allow-env-file`.
struct Sendable {
    cwd: Option<PathBuf>,
    project: Option<PathBuf>,
    allowed: Vec<PathBuf>,
}

impl Sendable {
    fn new(allowed: &[PathBuf]) -> Self {
        let cwd = std::env::current_dir().ok().and_then(|d| real(&d));
        let homes = home_dirs();
        let project = cwd.clone().filter(|cwd| is_project_dir(cwd, &homes));
        Sendable { cwd, project, allowed: allowed.iter().filter_map(|p| real(p)).collect() }
    }

    /// `resolved` when it may be sent, else a refusal naming `--allow-env-file`.
    fn check(&self, resolved: PathBuf, what: &str, shown: &str) -> Result<PathBuf, Failure> {
        let inside = self.project.as_deref().is_some_and(|dir| resolved.starts_with(dir));
        if inside || self.allowed.contains(&resolved) {
            return Ok(resolved);
        }
        let where_ = match self.project {
            Some(_) => "outside the working directory".to_owned(),
            None => format!(
                "and the working directory ({}) is /, your home or a system directory, whose files \
                 are not sent by themselves",
                self.cwd.as_deref().map_or_else(|| "unknown".into(), |d| printable(&d.to_string_lossy()))
            ),
        };
        Err(Failure::new(
            format!("the label reads {what} {shown}, {where_}; pass --allow-env-file {shown} to send it"),
            1,
        ))
    }
}

/// The words of the RUN_OPTS_FILE at `path`, split as a shell would split them (quotes kept),
/// read under the rules of env files. A file that is not there gives no words and a warning, as
/// the original tool did; one over 64 KiB or one that cannot be split is a refusal.
pub(super) fn run_opts(path: &str, allowed: &[PathBuf]) -> Result<Vec<String>, Failure> {
    let shown = printable(path);
    let Some(resolved) = real(Path::new(path)) else {
        eprintln!("atomic: warning: RUN_OPTS_FILE {shown} does not exist; ${{RUN_OPTS}} is empty");
        return Ok(Vec::new());
    };
    let resolved = Sendable::new(allowed).check(resolved, "RUN_OPTS_FILE", &shown)?;
    let cannot = |e: String| Failure::new(format!("cannot read RUN_OPTS_FILE {shown}: {e}"), 1);
    let file = std::fs::File::open(&resolved).map_err(|e| cannot(e.to_string()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, RUN_OPTS_MAX + 1), &mut text)
        .map_err(|e| cannot(e.to_string()))?;
    if text.len() as u64 > RUN_OPTS_MAX {
        return Err(cannot(format!("it is over {RUN_OPTS_MAX} bytes")));
    }
    let words = shell_words::split(&text).map_err(|e| cannot(format!("its words cannot be split ({e})")))?;
    eprintln!("atomic: sending the options of RUN_OPTS_FILE {shown}");
    Ok(words)
}

/// The contents of `paths` (relative ones from the working directory), each said on stderr as it
/// is sent; a file outside what the caller can be taken to mean is a refusal naming the flag.
pub(super) fn read(paths: &[String], allowed: &[PathBuf]) -> Result<HashMap<String, String>, Failure> {
    let sendable = Sendable::new(allowed);
    let mut files = HashMap::new();
    for path in paths {
        let shown = printable(path);
        let resolved = real(Path::new(path))
            .ok_or_else(|| Failure::new(format!("cannot read env file {shown}: it does not exist"), 1))?;
        let resolved = sendable.check(resolved, "env file", &shown)?;
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

    /// A RUN_OPTS_FILE named with --allow-env-file is read as a shell splits it; a missing one
    /// is no words; one outside what the caller means, too large or badly quoted is refused.
    #[test]
    fn a_run_opts_file_is_read_as_words_or_refused() {
        let dir = std::env::temp_dir().join(format!("atomic-run-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("opts");
        std::fs::write(&file, "--hostname=www.example.test\n-e 'VAR1=x y'\n").unwrap();
        let path = file.to_string_lossy().into_owned();
        let words = run_opts(&path, std::slice::from_ref(&file)).unwrap();
        assert_eq!(words, ["--hostname=www.example.test", "-e", "VAR1=x y"]);
        assert!(run_opts(&dir.join("absent").to_string_lossy(), &[]).unwrap().is_empty());
        // Outside the working directory, it goes only when named.
        if !file.starts_with(std::env::current_dir().unwrap()) {
            let refused = run_opts(&path, &[]).unwrap_err();
            assert!(refused.message.contains("--allow-env-file"), "{}", refused.message);
        }
        std::fs::write(&file, "-e 'unclosed").unwrap();
        assert!(run_opts(&path, std::slice::from_ref(&file)).is_err());
        std::fs::write(&file, "x".repeat(64 * 1024 + 1)).unwrap();
        let big = run_opts(&path, std::slice::from_ref(&file)).unwrap_err();
        assert!(big.message.contains("over"), "{}", big.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
