//! The container a `docker run` line asks for, and the translation of such a line into it.
//!
//! A label is never handed to a shell: its argv is read here flag by flag, and every flag that
//! this table does not know is refused by name rather than dropped.

use crate::error::{Error, Result};

/// Everything atomicd understands of one `docker run` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    /// The program word (`docker`, `podman`, `/usr/bin/docker`...), kept for display.
    pub program: String,
    /// The image as written on the line.
    pub image: String,
    /// The command words after the image.
    pub command: Vec<String>,
    /// `--name`
    pub name: Option<String>,
    /// `-d`
    pub detach: bool,
    /// `-i`
    pub interactive: bool,
    /// `-t`
    pub tty: bool,
    /// `--rm`
    pub remove: bool,
    /// `--privileged`
    pub privileged: bool,
    /// `--net` / `--network`
    pub network: Option<String>,
    /// `--pid`
    pub pid: Option<String>,
    /// `--ipc`
    pub ipc: Option<String>,
    /// `--uts`
    pub uts: Option<String>,
    /// `--userns`
    pub userns: Option<String>,
    /// `-v` as written: `SRC:DST[:OPTS]`, or a lone `DST` for an anonymous volume.
    pub volumes: Vec<String>,
    /// `--mount` as written: `type=bind,src=...,dst=...`.
    pub mounts: Vec<String>,
    /// `-e`
    pub env: Vec<String>,
    /// `--env-file`
    pub env_files: Vec<String>,
    /// `--cap-add`
    pub cap_add: Vec<String>,
    /// `--cap-drop`
    pub cap_drop: Vec<String>,
    /// `--security-opt`
    pub security_opt: Vec<String>,
    /// `--device`
    pub devices: Vec<String>,
    /// `-p`
    pub publish: Vec<String>,
    /// `--restart`
    pub restart: Option<String>,
    /// `-w`
    pub workdir: Option<String>,
    /// `--entrypoint`
    pub entrypoint: Option<String>,
    /// `-u`
    pub user: Option<String>,
    /// `--hostname`
    pub hostname: Option<String>,
    /// `--tmpfs`
    pub tmpfs: Vec<String>,
    /// `--read-only`
    pub read_only: bool,
    /// `--init`
    pub init: bool,
    /// `-l`
    pub labels: Vec<String>,
    /// `--log-driver`
    pub log_driver: Option<String>,
    /// `--stop-signal`
    pub stop_signal: Option<String>,
    /// `--group-add`
    pub group_add: Vec<String>,
    /// `--sig-proxy`
    pub sig_proxy: Option<bool>,
}

#[derive(Clone, Copy)]
enum Arity {
    Switch,
    Value,
}

/// Long names (first is canonical), the short letter, and whether a value follows.
const FLAGS: &[(&[&str], Option<char>, Arity)] = &[
    (&["detach"], Some('d'), Arity::Switch),
    (&["interactive"], Some('i'), Arity::Switch),
    (&["tty"], Some('t'), Arity::Switch),
    (&["rm"], None, Arity::Switch),
    (&["privileged"], None, Arity::Switch),
    (&["read-only"], None, Arity::Switch),
    (&["init"], None, Arity::Switch),
    (&["sig-proxy"], None, Arity::Switch),
    (&["name"], Some('n'), Arity::Value),
    (&["network", "net"], None, Arity::Value),
    (&["pid"], None, Arity::Value),
    (&["ipc"], None, Arity::Value),
    (&["uts"], None, Arity::Value),
    (&["userns"], None, Arity::Value),
    (&["volume"], Some('v'), Arity::Value),
    (&["mount"], None, Arity::Value),
    (&["env"], Some('e'), Arity::Value),
    (&["env-file"], None, Arity::Value),
    (&["cap-add", "cap_add"], None, Arity::Value),
    (&["cap-drop", "cap_drop"], None, Arity::Value),
    (&["security-opt"], None, Arity::Value),
    (&["device"], None, Arity::Value),
    (&["publish"], Some('p'), Arity::Value),
    (&["restart"], None, Arity::Value),
    (&["workdir"], Some('w'), Arity::Value),
    (&["entrypoint"], None, Arity::Value),
    (&["user"], Some('u'), Arity::Value),
    (&["hostname"], Some('h'), Arity::Value),
    (&["tmpfs"], None, Arity::Value),
    (&["label"], Some('l'), Arity::Value),
    (&["log-driver"], None, Arity::Value),
    (&["stop-signal"], None, Arity::Value),
    (&["group-add"], None, Arity::Value),
];

fn find_long(name: &str) -> Option<(&'static str, Arity)> {
    FLAGS.iter().find(|(names, _, _)| names.contains(&name)).map(|(names, _, a)| (names[0], *a))
}

fn find_short(letter: char) -> Option<(&'static str, Arity)> {
    FLAGS.iter().find(|(_, s, _)| *s == Some(letter)).map(|(names, _, a)| (names[0], *a))
}

fn unsupported(what: String) -> Error {
    Error::UnsupportedLabel(what)
}

/// True when `word` is a program atomicd accepts in a label: `docker`, `podman`, or a path
/// ending in either.
pub fn is_engine_program(word: &str) -> bool {
    let base = word.rsplit('/').next().unwrap_or(word);
    matches!(base, "docker" | "podman")
}

impl RunSpec {
    /// Reads a `docker run` / `podman run` argv.
    pub fn from_argv(argv: &[String]) -> Result<Self> {
        let program = argv.first().ok_or_else(|| unsupported("the line is empty".into()))?;
        if !is_engine_program(program) {
            return Err(unsupported(format!(
                "the line must start with docker or podman, not {:?}",
                crate::text::truncate_for_message(program)
            )));
        }
        match argv.get(1).map(String::as_str) {
            Some("run") => {}
            Some("container") if argv.get(2).map(String::as_str) == Some("run") => {
                return Self::parse_run(program, &argv[3..]);
            }
            other => {
                return Err(unsupported(format!(
                    "only `{program} run` lines are supported, not `{program} {}`",
                    other.unwrap_or("")
                )))
            }
        }
        Self::parse_run(program, &argv[2..])
    }

    fn parse_run(program: &str, args: &[String]) -> Result<Self> {
        let mut spec = RunSpec { program: program.to_owned(), ..RunSpec::default() };
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            i += 1;
            if word == "--" {
                break;
            }
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (long, None),
                };
                let (canonical, arity) =
                    find_long(name).ok_or_else(|| unsupported(format!("unsupported flag --{name}")))?;
                match arity {
                    Arity::Switch => spec.set_switch(canonical, inline.as_deref())?,
                    Arity::Value => {
                        let value = match inline {
                            Some(v) => v,
                            None => take_value(args, &mut i, &format!("--{name}"))?,
                        };
                        spec.set_value(canonical, value)?;
                    }
                }
            } else if let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) {
                for (at, letter) in cluster.char_indices() {
                    let (canonical, arity) = find_short(letter)
                        .ok_or_else(|| unsupported(format!("unsupported flag -{letter}")))?;
                    match arity {
                        Arity::Switch => spec.set_switch(canonical, None)?,
                        Arity::Value => {
                            let rest = &cluster[at + letter.len_utf8()..];
                            let value = if rest.is_empty() {
                                take_value(args, &mut i, &format!("-{letter}"))?
                            } else {
                                rest.strip_prefix('=').unwrap_or(rest).to_owned()
                            };
                            spec.set_value(canonical, value)?;
                            break;
                        }
                    }
                }
            } else {
                spec.image = word.clone();
                spec.command = args[i..].to_vec();
                return Ok(spec);
            }
        }
        match args.get(i) {
            Some(image) => {
                spec.image = image.clone();
                spec.command = args[i + 1..].to_vec();
                Ok(spec)
            }
            None => Err(unsupported("the run line names no image".into())),
        }
    }

    fn set_switch(&mut self, flag: &str, inline: Option<&str>) -> Result<()> {
        let on = match inline {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(unsupported(format!("--{flag} takes true or false, not {other:?}"))),
        };
        match flag {
            "detach" => self.detach = on,
            "interactive" => self.interactive = on,
            "tty" => self.tty = on,
            "rm" => self.remove = on,
            "privileged" => self.privileged = on,
            "read-only" => self.read_only = on,
            "init" => self.init = on,
            "sig-proxy" => self.sig_proxy = Some(on),
            _ => return Err(unsupported(format!("unsupported flag --{flag}"))),
        }
        Ok(())
    }

    fn set_value(&mut self, flag: &str, value: String) -> Result<()> {
        match flag {
            "name" => self.name = Some(value),
            "network" => self.network = Some(value),
            "pid" => self.pid = Some(value),
            "ipc" => self.ipc = Some(value),
            "uts" => self.uts = Some(value),
            "userns" => self.userns = Some(value),
            "volume" => self.volumes.push(value),
            "mount" => self.mounts.push(value),
            "env" => self.env.push(value),
            "env-file" => self.env_files.push(value),
            "cap-add" => self.cap_add.push(value),
            "cap-drop" => self.cap_drop.push(value),
            "security-opt" => self.security_opt.push(value),
            "device" => self.devices.push(value),
            "publish" => self.publish.push(value),
            "restart" => self.restart = Some(value),
            "workdir" => self.workdir = Some(value),
            "entrypoint" => self.entrypoint = Some(value),
            "user" => self.user = Some(value),
            "hostname" => self.hostname = Some(value),
            "tmpfs" => self.tmpfs.push(value),
            "label" => self.labels.push(value),
            "log-driver" => self.log_driver = Some(value),
            "stop-signal" => self.stop_signal = Some(value),
            "group-add" => self.group_add.push(value),
            _ => return Err(unsupported(format!("unsupported flag --{flag}"))),
        }
        Ok(())
    }

    /// What this container may do to the host, one sentence each; empty for a confined container.
    /// Any entry makes Run need `org.atomic.run-privileged`.
    pub fn host_privileges(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.privileged {
            out.push("runs privileged: all capabilities and every host device".to_owned());
        }
        for (what, ns) in [
            ("network", &self.network),
            ("process", &self.pid),
            ("IPC", &self.ipc),
            ("UTS", &self.uts),
            ("user", &self.userns),
        ] {
            if ns.as_deref() == Some("host") {
                out.push(format!("shares the host's {what} namespace"));
            }
        }
        for v in &self.volumes {
            if let Some((src, dst)) = host_bind(v) {
                out.push(format!("mounts host path {src} at {dst}"));
            }
        }
        for m in &self.mounts {
            if m.split(',').any(|kv| kv == "type=bind") {
                out.push(format!("bind-mounts a host path ({m})"));
            }
        }
        for c in &self.cap_add {
            out.push(format!("adds capability {c}"));
        }
        for d in &self.devices {
            out.push(format!("gets host device {d}"));
        }
        for s in &self.security_opt {
            if s.contains("disable") || s.contains("unconfined") {
                out.push(format!("relaxes confinement: --security-opt {s}"));
            }
        }
        out
    }
}

/// The `KEY=VALUE` entries of an env file's text, as `docker run --env-file` reads it: blank
/// lines and `#` comments skipped, a bare `KEY` kept as it is (the engine leaves it unset).
pub fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

impl RunSpec {
    /// Replaces each `--env-file PATH` by the variables of its contents, which the caller read
    /// (`env_files`, by the path as written on the line): atomicd never opens a file a label
    /// names on behalf of a caller who might not be allowed to read it.
    pub fn resolve_env_files(&mut self, env_files: &std::collections::HashMap<String, String>) -> Result<()> {
        for path in std::mem::take(&mut self.env_files) {
            let text = env_files.get(&path).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the line reads --env-file {path:?}; the caller must send that file's contents in the \
                     env-files option (atomicd does not read files for callers)"
                ))
            })?;
            let mut vars = parse_env_file(text);
            vars.append(&mut self.env);
            self.env = vars;
        }
        Ok(())
    }
}

/// The source and destination of a `-v` bind of a host path (`/src:/dst[:opts]`).
fn host_bind(volume: &str) -> Option<(&str, &str)> {
    let mut parts = volume.splitn(3, ':');
    let src = parts.next()?;
    let dst = parts.next()?;
    src.starts_with('/').then_some((src, dst))
}

fn take_value(args: &[String], i: &mut usize, flag: &str) -> Result<String> {
    let v = args.get(*i).ok_or_else(|| unsupported(format!("{flag} needs a value")))?;
    *i += 1;
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        shell_words::split(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn spec(line: &str) -> RunSpec {
        RunSpec::from_argv(&argv(line)).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn flag_forms() {
        let s = spec("docker run -it --rm --name=ntp -e A=1 --env B=2 -v/a:/b --net host --cap_add SYS_TIME img sh -c 'echo a b'");
        assert!(s.interactive && s.tty && s.remove);
        assert_eq!(s.name.as_deref(), Some("ntp"));
        assert_eq!(s.env, ["A=1", "B=2"]);
        assert_eq!(s.volumes, ["/a:/b"]);
        assert_eq!(s.network.as_deref(), Some("host"));
        assert_eq!(s.cap_add, ["SYS_TIME"]);
        assert_eq!(s.image, "img");
        assert_eq!(s.command, ["sh", "-c", "echo a b"]);
    }

    #[test]
    fn command_flags_after_the_image_belong_to_the_command() {
        let s = spec("/usr/bin/docker run -d img ls -l --all");
        assert!(s.detach);
        assert_eq!(s.program, "/usr/bin/docker");
        assert_eq!(s.command, ["ls", "-l", "--all"]);
    }

    #[test]
    fn switches_take_explicit_booleans() {
        assert!(!spec("docker run --rm=false img").remove);
        assert!(spec("podman run --privileged=true img").privileged);
        assert!(matches!(
            RunSpec::from_argv(&argv("docker run --rm=maybe img")),
            Err(Error::UnsupportedLabel(_))
        ));
    }

    #[test]
    fn refusals_name_the_problem() {
        let table = [
            ("", "empty"),
            ("sh -c 'docker run img'", "must start with docker or podman"),
            ("docker exec img", "only `docker run`"),
            ("docker run --bogus img", "--bogus"),
            ("docker run -X img", "-X"),
            ("docker run --name", "--name needs a value"),
            ("docker run -d", "names no image"),
        ];
        for (line, needle) in table {
            match RunSpec::from_argv(&argv(line)) {
                Err(Error::UnsupportedLabel(msg)) => assert!(msg.contains(needle), "{line}: {msg}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn env_files_come_from_the_caller() {
        let mut s = spec("docker run --env-file /etc/app.env -e LAST=1 img");
        let missing = s.clone().resolve_env_files(&Default::default());
        assert!(matches!(missing, Err(Error::InvalidArgument(m)) if m.contains("/etc/app.env")));
        let files = std::collections::HashMap::from([(
            "/etc/app.env".to_owned(),
            "# comment\n\nA=1\n  B=two words\nBARE\n".to_owned(),
        )]);
        s.resolve_env_files(&files).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.env, ["A=1", "B=two words", "BARE", "LAST=1"]);
        assert!(s.env_files.is_empty());
    }

    #[test]
    fn host_privileges_are_listed() {
        let table: [(&str, usize); 6] = [
            ("docker run --rm img", 0),
            ("docker run -v data:/data -v /anon img", 0),
            ("docker run --privileged img", 1),
            ("docker run --net=host --pid=host --ipc=host img", 3),
            ("docker run -v /:/host --mount type=bind,src=/etc,dst=/e --cap-add SYS_ADMIN img", 3),
            ("docker run --security-opt label=disable --device /dev/fuse img", 2),
        ];
        for (line, count) in table {
            assert_eq!(spec(line).host_privileges().len(), count, "{line}");
        }
    }
}
