//! The container a `docker run` line asks for, read flag by flag through one table that gives
//! each flag its arity and its privilege class. A label is never handed to a shell, and a flag
//! the table does not know is refused by name rather than dropped.

use super::privilege::{self as p, Class, Verdict};
use super::values::{Device, EngineLabel, Mount, Port, Restart, Tmpfs, Volume};
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
    /// `-v`, parsed: what is judged is what the engine gets.
    pub volumes: Vec<Volume>,
    /// `--mount`, parsed.
    pub mounts: Vec<Mount>,
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
    pub devices: Vec<Device>,
    /// `-p`
    pub publish: Vec<Port>,
    /// `--restart`
    pub restart: Option<Restart>,
    /// `-w`
    pub workdir: Option<String>,
    /// `--entrypoint`
    pub entrypoint: Option<String>,
    /// `-u`
    pub user: Option<String>,
    /// `--hostname`
    pub hostname: Option<String>,
    /// `--tmpfs`
    pub tmpfs: Vec<Tmpfs>,
    /// `--read-only`
    pub read_only: bool,
    /// `--init`
    pub init: bool,
    /// `-l`
    pub labels: Vec<EngineLabel>,
    /// `--log-driver`
    pub log_driver: Option<String>,
    /// `--stop-signal`
    pub stop_signal: Option<String>,
    /// `--group-add`
    pub group_add: Vec<String>,
    /// `--sig-proxy`
    pub sig_proxy: Option<bool>,
    /// What the flags let the container do to the host, as judged by the table.
    pub privileges: Vec<String>,
    /// The verdicts of the switches that are on now: a later `--x=false` takes one back.
    switched_on: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    Switch,
    Value,
}

/// One flag of the table: its long names (first is canonical), its short letter, whether a value
/// follows, and what it may do to the host.
struct Flag {
    names: &'static [&'static str],
    short: Option<char>,
    arity: Arity,
    class: Class,
}

const fn flag(names: &'static [&'static str], short: Option<char>, arity: Arity, class: Class) -> Flag {
    Flag { names, short, arity, class }
}

use Arity::{Switch, Value};
use Class::{ByValue, Confined, Host, Parsed};

/// Every flag atomicd translates. A flag cannot be added without its class.
const FLAGS: &[Flag] = &[
    flag(&["detach"], Some('d'), Switch, Confined),
    flag(&["interactive"], Some('i'), Switch, Confined),
    flag(&["tty"], Some('t'), Switch, Confined),
    flag(&["rm"], None, Switch, Confined),
    flag(&["privileged"], None, Switch, Host(p::privileged)),
    flag(&["read-only"], None, Switch, Confined),
    flag(&["init"], None, Switch, Confined),
    flag(&["sig-proxy"], None, Switch, Confined),
    flag(&["name"], Some('n'), Value, Confined),
    flag(&["network", "net"], None, Value, ByValue(p::network)),
    flag(&["pid"], None, Value, ByValue(p::pid)),
    flag(&["ipc"], None, Value, ByValue(p::ipc)),
    flag(&["uts"], None, Value, ByValue(p::uts)),
    flag(&["userns"], None, Value, ByValue(p::userns)),
    flag(&["volume"], Some('v'), Value, Parsed),
    flag(&["mount"], None, Value, Parsed),
    flag(&["env"], Some('e'), Value, Confined),
    // The file is read by the caller with the caller's rights, never by atomicd.
    flag(&["env-file"], None, Value, Confined),
    flag(&["cap-add", "cap_add"], None, Value, Host(p::cap_add)),
    flag(&["cap-drop", "cap_drop"], None, Value, Confined),
    flag(&["security-opt"], None, Value, ByValue(p::security_opt)),
    flag(&["device"], None, Value, Parsed),
    flag(&["publish"], Some('p'), Value, Parsed),
    flag(&["restart"], None, Value, Parsed),
    flag(&["workdir"], Some('w'), Value, Confined),
    flag(&["entrypoint"], None, Value, Confined),
    flag(&["user"], Some('u'), Value, Confined),
    flag(&["hostname"], Some('h'), Value, Confined),
    flag(&["tmpfs"], None, Value, Parsed),
    flag(&["label"], Some('l'), Value, Parsed),
    flag(&["log-driver"], None, Value, ByValue(p::log_driver)),
    flag(&["stop-signal"], None, Value, Confined),
    flag(&["group-add"], None, Value, Confined),
];

/// The canonical names of the flags whose class is not plain confined (their value may reach the
/// host), for the engine's test that what it creates reads back with the same privileges.
#[cfg(test)]
pub(crate) fn flags_that_may_reach_the_host() -> Vec<&'static str> {
    FLAGS.iter().filter(|f| !matches!(f.class, Confined)).map(|f| f.names[0]).collect()
}

fn find_long(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.names.contains(&name))
}

fn find_short(letter: char) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.short == Some(letter))
}

fn unsupported(what: String) -> Error {
    Error::UnsupportedLabel(what)
}

/// True when `word` is a program atomicd accepts in a label: `docker`, `podman`, or a path
/// ending in either.
pub(crate) fn is_engine_program(word: &str) -> bool {
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
                let flag =
                    find_long(name).ok_or_else(|| unsupported(format!("unsupported flag --{name}")))?;
                let value = match (flag.arity, inline) {
                    (Arity::Value, None) => Some(take_value(args, &mut i, &format!("--{name}"))?),
                    (_, inline) => inline,
                };
                spec.take(flag, value)?;
            } else if let Some(cluster) = word.strip_prefix('-').filter(|c| !c.is_empty()) {
                for (at, letter) in cluster.char_indices() {
                    let flag = find_short(letter)
                        .ok_or_else(|| unsupported(format!("unsupported flag -{letter}")))?;
                    if flag.arity == Arity::Switch {
                        spec.take(flag, None)?;
                        continue;
                    }
                    let rest = &cluster[at + letter.len_utf8()..];
                    let value = if rest.is_empty() {
                        take_value(args, &mut i, &format!("-{letter}"))?
                    } else {
                        rest.strip_prefix('=').unwrap_or(rest).to_owned()
                    };
                    spec.take(flag, Some(value))?;
                    break;
                }
            } else {
                return spec.finish(word, &args[i..]);
            }
        }
        match args.get(i) {
            Some(image) => spec.finish(image, &args[i + 1..]),
            None => Err(unsupported("the run line names no image".into())),
        }
    }

    /// Records one flag and judges what it may do to the host.
    fn take(&mut self, flag: &Flag, value: Option<String>) -> Result<()> {
        let canonical = flag.names[0];
        if flag.arity == Arity::Switch {
            let on = self.set_switch(canonical, value.as_deref())?;
            self.switched_on.retain(|(name, _)| *name != canonical);
            if let (true, Verdict::Host(sentence)) = (on, flag.class.judge("true")) {
                self.switched_on.push((canonical, crate::text::visible(&sentence).into_owned()));
            }
            return Ok(());
        }
        let value = value.unwrap_or_default();
        if let Class::Parsed = flag.class {
            return self.take_parsed(canonical, &value);
        }
        self.judged(flag.class.judge(&value))?;
        self.set_value(canonical, value)
    }

    /// Records what a verdict says: a sentence for a host privilege, an error for a refusal.
    fn judged(&mut self, verdict: Verdict) -> Result<()> {
        match verdict {
            Verdict::Confined => Ok(()),
            // A sentence quotes the label's value, which may hold escapes meant for a terminal.
            Verdict::Host(sentence) => {
                self.privileges.push(crate::text::visible(&sentence).into_owned());
                Ok(())
            }
            Verdict::Refused(why) => Err(unsupported(crate::text::visible(&why).into_owned())),
        }
    }

    /// Parses a structured value once, judges the parsed value, and keeps it: the create body
    /// reads exactly what was judged.
    fn take_parsed(&mut self, flag: &str, value: &str) -> Result<()> {
        let refused = |why: String| {
            let shown = crate::text::truncate_for_message(value);
            unsupported(crate::text::visible(&format!("--{flag} {shown:?}: {why}")).into_owned())
        };
        match flag {
            "volume" => {
                let v = Volume::parse(value).map_err(refused)?;
                self.judged(p::volume(&v))?;
                self.volumes.push(v);
            }
            "mount" => {
                let m = Mount::parse(value).map_err(refused)?;
                self.judged(p::mount(&m))?;
                self.mounts.push(m);
            }
            "device" => {
                let d = Device::parse(value).map_err(refused)?;
                self.judged(Verdict::Host(p::device(&d.host)))?;
                self.devices.push(d);
            }
            "publish" => {
                let port = Port::parse(value).map_err(refused)?;
                self.judged(Verdict::Host(p::publish(&port.to_string())))?;
                self.publish.push(port);
            }
            "restart" => self.restart = Some(Restart::parse(value).map_err(refused)?),
            "tmpfs" => self.tmpfs.push(Tmpfs::parse(value).map_err(refused)?),
            "label" => {
                let l = EngineLabel::parse(value).map_err(refused)?;
                self.judged(p::label(&l))?;
                self.labels.push(l);
            }
            _ => return Err(unsupported(format!("unsupported flag --{flag}"))),
        }
        Ok(())
    }

    /// The image and command, and the verdicts of the switches as they ended up.
    fn finish(mut self, image: &str, command: &[String]) -> Result<Self> {
        self.image = image.to_owned();
        self.command = command.to_vec();
        let switches: Vec<String> = self.switched_on.drain(..).map(|(_, sentence)| sentence).collect();
        self.privileges.splice(0..0, switches);
        Ok(self)
    }

    /// Sets a switch; returns whether it is now on.
    fn set_switch(&mut self, flag: &str, inline: Option<&str>) -> Result<bool> {
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
        Ok(on)
    }

    fn set_value(&mut self, flag: &str, value: String) -> Result<()> {
        match flag {
            "name" => self.name = Some(value),
            "network" => self.network = Some(value),
            "pid" => self.pid = Some(value),
            "ipc" => self.ipc = Some(value),
            "uts" => self.uts = Some(value),
            "userns" => self.userns = Some(value),
            "env" => self.env.push(value),
            "env-file" => self.env_files.push(value),
            "cap-add" => self.cap_add.push(value),
            "cap-drop" => self.cap_drop.push(value),
            "security-opt" => self.security_opt.push(value),
            "workdir" => self.workdir = Some(value),
            "entrypoint" => self.entrypoint = Some(value),
            "user" => self.user = Some(value),
            "hostname" => self.hostname = Some(value),
            "log-driver" => self.log_driver = Some(value),
            "stop-signal" => self.stop_signal = Some(value),
            "group-add" => self.group_add.push(value),
            _ => return Err(unsupported(format!("unsupported flag --{flag}"))),
        }
        Ok(())
    }

    /// What this container may do to the host, one sentence each; empty for a confined container.
    /// Any entry makes a call need `org.atomic.run-privileged`.
    pub fn host_privileges(&self) -> &[String] {
        &self.privileges
    }
}

fn take_value(args: &[String], i: &mut usize, flag: &str) -> Result<String> {
    let v = args.get(*i).ok_or_else(|| unsupported(format!("{flag} needs a value")))?;
    *i += 1;
    Ok(v.clone())
}

#[cfg(test)]
mod tests;
