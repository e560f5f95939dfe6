//! The `docker run` flag values that have a structure (`-v`, `--mount`, `--device`, `-p`,
//! `--restart`, `--tmpfs`, `-l`), parsed once into the types that both the privilege judge and
//! the engine's create body read. A value the parse cannot read exactly one way is refused: a
//! repeated or unknown `--mount` key, an option atomicd does not know, a form two engines would
//! read differently. Nothing downstream splits these strings again.

use std::fmt;

/// Why a value was refused, as the label's error says it.
pub(super) type Refusal = String;

/// Where a `-v` volume comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// `-v /target`: a new anonymous volume.
    Anonymous,
    /// `-v name:/target`: a named volume of the engine's.
    Named(String),
    /// `-v /host/path:/target`: a path of the host.
    Host(String),
}

/// One `-v SRC:DST[:OPTIONS]`, or a lone `DST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The source.
    pub source: VolumeSource,
    /// The path inside the container.
    pub target: String,
    /// The options as given (each one of [`VOLUME_OPTIONS`]).
    pub options: Vec<String>,
}

/// The `-v` options both engines read the same way. Engines report some of these on an
/// existing container (`rw,rprivate,nosuid,nodev,rbind`), which is judged by this same parse.
pub(super) const VOLUME_OPTIONS: &[&str] = &[
    "ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nocopy", "nosuid",
    "suid", "nodev", "dev", "noexec", "exec", "bind", "rbind", "U", "O",
];

fn absolute(what: &str, path: &str) -> Result<(), Refusal> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{what} {path:?} is not an absolute path"))
    }
}

impl Volume {
    /// Reads `-v`'s value: exactly `DST`, `SRC:DST` or `SRC:DST:OPTIONS`.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [target] => {
                if !target.starts_with('/') {
                    return Err(format!(
                        "{target:?} is neither a volume name nor an absolute path; the engine would read \
                         it against its own working directory"
                    ));
                }
                return Ok(Volume {
                    source: VolumeSource::Anonymous,
                    target: (*target).to_owned(),
                    options: vec![],
                });
            }
            [source, target] => (*source, *target, None),
            [source, target, options] => (*source, *target, Some(*options)),
            _ => return Err("expected DST, SRC:DST or SRC:DST:OPTIONS".into()),
        };
        // Docker reads `/x:ro` as an anonymous volume with options, podman as a bind of /x at
        // "ro": the form is refused rather than guessed.
        absolute("the target", target)?;
        let source = if source.starts_with('/') {
            VolumeSource::Host(source.to_owned())
        } else if is_object_name(source) {
            VolumeSource::Named(source.to_owned())
        } else {
            return Err(format!(
                "{source:?} is neither a volume name nor an absolute path; the engine would read it \
                 against its own working directory"
            ));
        };
        let options = match options {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|o| {
                    if VOLUME_OPTIONS.contains(&o) {
                        Ok(o.to_owned())
                    } else {
                        Err(format!("unsupported volume option {o:?}"))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Volume { source, target: target.to_owned(), options })
    }

    /// The engine's `Binds` entry, written from the parsed parts; `None` for an anonymous volume
    /// (the create body lists it among the container's volumes).
    pub fn bind(&self) -> Option<String> {
        let source = match &self.source {
            VolumeSource::Anonymous => return None,
            VolumeSource::Named(s) | VolumeSource::Host(s) => s,
        };
        Some(match self.options.is_empty() {
            true => format!("{source}:{}", self.target),
            false => format!("{source}:{}:{}", self.target, self.options.join(",")),
        })
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bind() {
            Some(bind) => f.write_str(&bind),
            None => f.write_str(&self.target),
        }
    }
}

/// A `--mount` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// `type=bind`: a host path.
    Bind,
    /// `type=volume` (the default): a named or anonymous volume.
    Volume,
    /// `type=tmpfs`: memory, no source.
    Tmpfs,
}

/// One `--mount type=...,source=...,target=...[,readonly]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The type.
    pub kind: MountKind,
    /// The source: a host path for a bind, a volume name (or none) for a volume, none for tmpfs.
    pub source: Option<String>,
    /// The path inside the container.
    pub target: String,
    /// `readonly`
    pub read_only: bool,
}

/// The `--mount` keys atomicd reads, each with its spellings: a key given twice under any of
/// its spellings is refused, since engines disagree on which one wins.
const MOUNT_KEYS: &[(&str, &[&str])] = &[
    ("type", &["type"]),
    ("source", &["source", "src"]),
    ("target", &["target", "dst", "destination"]),
    ("readonly", &["readonly", "ro"]),
];

impl Mount {
    /// Reads `--mount`'s value, refusing repeated, unknown or differently-cased keys.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let mut seen: [Option<&str>; 4] = [None; 4];
        for field in text.split(',') {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (field, None),
            };
            let slot =
                MOUNT_KEYS.iter().position(|(_, spellings)| spellings.contains(&key)).ok_or_else(|| {
                    format!("unsupported field {key:?} (known: type, source, target, readonly)")
                })?;
            if seen[slot].is_some() {
                return Err(format!("the field {:?} is given more than once", MOUNT_KEYS[slot].0));
            }
            seen[slot] = Some(match (slot, value) {
                (3, None) => "true",
                (_, Some(v)) => v,
                (_, None) => return Err(format!("the field {key:?} needs a value")),
            });
        }
        let [typ, source, target, readonly] = seen;
        let kind = match typ.unwrap_or("volume") {
            "bind" => MountKind::Bind,
            "volume" => MountKind::Volume,
            "tmpfs" => MountKind::Tmpfs,
            other => return Err(format!("type {other:?}: type must be bind, volume or tmpfs")),
        };
        let target = target.ok_or("a target is required")?;
        absolute("the target", target)?;
        let read_only = match readonly.unwrap_or("false") {
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(format!("readonly takes true or false, not {other:?}")),
        };
        let source = source.filter(|s| !s.is_empty());
        match (kind, source) {
            (MountKind::Bind, None) => return Err("a bind mount needs a source".into()),
            (MountKind::Bind, Some(s)) => absolute("the bind source", s)?,
            (MountKind::Volume, Some(s)) if !is_object_name(s) => {
                return Err(format!("the volume source {s:?} is not a volume name"))
            }
            (MountKind::Tmpfs, Some(_)) => return Err("a tmpfs mount takes no source".into()),
            _ => {}
        }
        Ok(Mount { kind, source: source.map(str::to_owned), target: target.to_owned(), read_only })
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        };
        write!(f, "type={kind}")?;
        if let Some(source) = &self.source {
            write!(f, ",source={source}")?;
        }
        write!(f, ",target={}", self.target)?;
        if self.read_only {
            f.write_str(",readonly")?;
        }
        Ok(())
    }
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The host's device path.
    pub host: String,
    /// Its path in the container.
    pub container: String,
    /// Some of `rwm`.
    pub permissions: String,
}

impl Device {
    /// Reads `--device`'s value.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, permissions) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, c] if c.starts_with('/') => (*h, *c, "rwm"),
            [h, p] => (*h, *h, *p),
            [h, c, p] => (*h, *c, *p),
            _ => return Err("expected HOST[:CONTAINER[:PERMISSIONS]]".into()),
        };
        absolute("the device", host)?;
        absolute("the device's path in the container", container)?;
        if permissions.is_empty() || !permissions.chars().all(|c| "rwm".contains(c)) {
            return Err(format!("permissions {permissions:?} are not some of r, w and m"));
        }
        Ok(Device {
            host: host.to_owned(),
            container: container.to_owned(),
            permissions: permissions.to_owned(),
        })
    }
}

/// One `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The host address, when one is named (brackets of an IPv6 address removed).
    pub host_ip: Option<String>,
    /// The host port, when one is named.
    pub host_port: Option<u16>,
    /// The container's port.
    pub container: u16,
    /// tcp, udp or sctp.
    pub protocol: &'static str,
}

impl Port {
    /// Reads `-p`'s value.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let (address, protocol) = match text.rsplit_once('/') {
            Some((a, "tcp")) => (a, "tcp"),
            Some((a, "udp")) => (a, "udp"),
            Some((a, "sctp")) => (a, "sctp"),
            Some(_) => return Err("protocol must be tcp, udp or sctp".into()),
            None => (text, "tcp"),
        };
        let parts: Vec<&str> = address.rsplitn(3, ':').collect();
        let (container, host_port, host_ip) = match parts.as_slice() {
            [c] => (*c, "", ""),
            [c, h] => (*c, *h, ""),
            [c, h, ip] => (*c, *h, *ip),
            _ => return Err("expected [IP:][HOSTPORT:]CONTAINERPORT".into()),
        };
        let port = |p: &str| p.parse::<u16>().map_err(|_| "ports must be numbers from 0 to 65535".to_owned());
        let host_ip = host_ip.trim_matches(['[', ']']);
        if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("{host_ip:?} is not an IP address"));
        }
        Ok(Port {
            host_ip: (!host_ip.is_empty()).then(|| host_ip.to_owned()),
            host_port: if host_port.is_empty() { None } else { Some(port(host_port)?) },
            container: port(container)?,
            protocol,
        })
    }

    /// `PORT/PROTO`, the engine's key for the container's port.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container, self.protocol)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = &self.host_ip {
            write!(f, "{ip}:")?;
        }
        match self.host_port {
            Some(p) => write!(f, "{p}:{}", self.key()),
            None if self.host_ip.is_some() => write!(f, ":{}", self.key()),
            None => f.write_str(&self.key()),
        }
    }
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// `no`
    No,
    /// `always`
    Always,
    /// `unless-stopped`
    UnlessStopped,
    /// `on-failure[:N]`
    OnFailure(Option<i64>),
}

impl Restart {
    /// Reads `--restart`'s value.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        Ok(match text.split_once(':') {
            Some(("on-failure", n)) => Restart::OnFailure(Some(
                n.parse::<i64>().map_err(|_| "the retry count must be a number".to_owned())?,
            )),
            Some(_) => return Err("only on-failure takes a count".into()),
            None => match text {
                "no" => Restart::No,
                "always" => Restart::Always,
                "unless-stopped" => Restart::UnlessStopped,
                "on-failure" => Restart::OnFailure(None),
                _ => return Err("expected no, always, unless-stopped or on-failure[:N]".into()),
            },
        })
    }
}

/// One `--tmpfs PATH[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    /// The path inside the container.
    pub target: String,
    /// The mount options, as the engine takes them (`size=1m,mode=1777`).
    pub options: String,
}

impl Tmpfs {
    /// Reads `--tmpfs`'s value.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let (target, options) = text.split_once(':').unwrap_or((text, ""));
        absolute("the tmpfs target", target)?;
        Ok(Tmpfs { target: target.to_owned(), options: options.to_owned() })
    }
}

/// One `-l KEY[=VALUE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLabel {
    /// The key.
    pub key: String,
    /// The value (empty when none was given).
    pub value: String,
}

impl EngineLabel {
    /// Reads `-l`'s value.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let (key, value) = text.split_once('=').unwrap_or((text, ""));
        if key.is_empty() {
            return Err("a label needs a key".into());
        }
        Ok(EngineLabel { key: key.to_owned(), value: value.to_owned() })
    }
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: a volume or network *name* as the engines accept one, which
/// can never be read as a path.
pub(super) fn is_object_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests;
