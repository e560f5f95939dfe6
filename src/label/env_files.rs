//! `--env-file`: the caller reads the files a line names and sends their contents; atomicd
//! never opens a file a label names on a caller's behalf. Here the line's env files become its
//! variables.

use super::RunSpec;
use crate::error::{Error, Result};

/// The `KEY=VALUE` entries of an env file's text, as `docker run --env-file` reads it: blank
/// lines and `#` comments skipped, a bare `KEY` kept as it is (the engine leaves it unset).
fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The most the env files of one line may put into its environment, all together.
const ENV_FROM_FILES_MAX: usize = 1024 * 1024;

impl RunSpec {
    /// The env files the line reads that are not in `env_files` (sent by the caller, by the path
    /// as written on the line): EnvFilesNeeded names them. Reads no contents.
    pub fn env_files_sent(&self, env_files: &std::collections::HashMap<String, String>) -> Result<()> {
        let mut missing: Vec<String> = Vec::new();
        for path in self.env_files.iter().filter(|p| !env_files.contains_key(*p)) {
            if !missing.contains(path) {
                missing.push(path.clone());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::EnvFilesNeeded(
            format!(
                "the line reads --env-file {}; the caller must send their contents in the env-files \
                 option (atomicd does not read files for callers)",
                missing.join(", ")
            ),
            missing,
        ))
    }

    /// Replaces each `--env-file PATH` by the variables of its contents, which the caller read
    /// (`env_files`, by the path as written on the line): atomicd never opens a file a label
    /// names on behalf of a caller who might not be allowed to read it. A path the line names
    /// twice is read once, and all of them together may bring at most 1 MiB.
    pub fn resolve_env_files(&mut self, env_files: &std::collections::HashMap<String, String>) -> Result<()> {
        self.env_files_sent(env_files)?;
        let mut vars = Vec::new();
        let mut bytes = 0;
        let mut read: Vec<&str> = Vec::new();
        for path in &self.env_files {
            if read.contains(&path.as_str()) {
                continue;
            }
            read.push(path);
            let text = env_files.get(path).map(String::as_str).unwrap_or_default();
            bytes += text.len();
            if bytes > ENV_FROM_FILES_MAX {
                return Err(Error::InvalidArgument(format!(
                    "the env files of the line hold more than {ENV_FROM_FILES_MAX} bytes together"
                )));
            }
            vars.extend(parse_env_file(text));
        }
        vars.append(&mut self.env);
        self.env = vars;
        self.env_files.clear();
        Ok(())
    }
}
