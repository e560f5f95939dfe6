//! What each value of a `docker run` flag may do to the host, decided by allowlist: a value is
//! confined only when it is known to be harmless; every other value touches the host (and then
//! needs `org.atomic.run-privileged`) or is refused outright.

/// The verdict on one flag and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stays inside the container.
    Confined,
    /// Reaches the host: one sentence for the banner and the polkit dialog.
    Host(String),
    /// Not accepted at all (the engine would read it against something atomicd cannot see).
    Refused(String),
}

/// How a flag of the table is classified. Every flag carries one, in the table itself.
#[derive(Clone, Copy)]
pub enum Class {
    /// Harmless whatever its value.
    Confined,
    /// Touches the host whatever its value (for a switch: when it is on).
    Host(fn(&str) -> String),
    /// Decided per value.
    ByValue(fn(&str) -> Verdict),
}

impl Class {
    /// The verdict on `value` (a switch is judged only while it is on).
    pub fn judge(self, value: &str) -> Verdict {
        match self {
            Class::Confined => Verdict::Confined,
            Class::Host(say) => Verdict::Host(say(value)),
            Class::ByValue(judge) => judge(value),
        }
    }
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: a volume or network *name* as the engines accept one, which
/// can never be read as a path.
pub fn is_object_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn namespace(what: &'static str, value: &str, harmless: &[&str]) -> Verdict {
    if harmless.contains(&value) {
        Verdict::Confined
    } else if value == "host" {
        Verdict::Host(format!("shares the host's {what} namespace"))
    } else {
        Verdict::Host(format!("joins the {what} namespace {value:?}, not a private one"))
    }
}

/// `--network`: a private network stack, none, or a named (bridge) network.
pub fn network(value: &str) -> Verdict {
    const MODES: [&str; 6] = ["", "default", "bridge", "none", "private", "slirp4netns"];
    // Words podman reads as modes rather than network names; pasta can reach host services.
    const NOT_NAMES: [&str; 2] = ["host", "pasta"];
    if MODES.contains(&value) || (is_object_name(value) && !NOT_NAMES.contains(&value)) {
        Verdict::Confined
    } else {
        namespace("network", value, &[])
    }
}

/// `--pid`
pub fn pid(value: &str) -> Verdict {
    namespace("process", value, &["", "private"])
}

/// `--ipc`
pub fn ipc(value: &str) -> Verdict {
    namespace("IPC", value, &["", "private", "shareable", "none"])
}

/// `--uts`
pub fn uts(value: &str) -> Verdict {
    namespace("UTS", value, &["", "private"])
}

/// `--userns`
pub fn userns(value: &str) -> Verdict {
    namespace("user", value, &["", "private", "auto"])
}

/// `-v SRC:DST[:OPTS]` or a lone `DST`: an anonymous or named volume is confined; an absolute
/// source is a host path; anything else (`../..`, `.`, `~`) the engine would resolve against its
/// own working directory, so it is refused.
pub fn volume(value: &str) -> Verdict {
    let (source, rest) = match value.split_once(':') {
        Some((s, r)) => (s, r),
        None if value.starts_with('/') => return Verdict::Confined,
        None => return relative(value, value),
    };
    let target = rest.split(':').next().unwrap_or_default();
    if is_object_name(source) {
        Verdict::Confined
    } else if source.starts_with('/') {
        Verdict::Host(format!("mounts host path {source} at {target}"))
    } else {
        relative(value, source)
    }
}

fn relative(value: &str, source: &str) -> Verdict {
    Verdict::Refused(format!(
        "-v {value:?}: {source:?} is neither a volume name nor an absolute path; the engine would \
         read it against its own working directory"
    ))
}

/// `--mount type=...,source=...,target=...`: volumes (by name) and tmpfs are confined; a bind,
/// or a volume whose source is not a name, reaches the host.
pub fn mount(value: &str) -> Verdict {
    let field = |keys: &[&str]| {
        value.split(',').find_map(|f| {
            let (k, v) = f.split_once('=')?;
            keys.contains(&k).then_some(v)
        })
    };
    let source = field(&["source", "src"]).unwrap_or_default();
    let target = field(&["target", "dst", "destination"]).unwrap_or_default();
    match field(&["type"]).unwrap_or("volume") {
        "tmpfs" if source.is_empty() => Verdict::Confined,
        "volume" if source.is_empty() || is_object_name(source) => Verdict::Confined,
        "bind" if source.starts_with('/') => {
            Verdict::Host(format!("bind-mounts host path {source} at {target}"))
        }
        _ => Verdict::Host(format!("mounts {value:?} from the host")),
    }
}

/// `--security-opt`: only `no-new-privileges` is known to confine rather than relax.
pub fn security_opt(value: &str) -> Verdict {
    match value {
        "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => Verdict::Confined,
        _ => Verdict::Host(format!("changes its confinement: --security-opt {value}")),
    }
}

/// `--log-driver`: the drivers that keep logs on the engine's side.
pub fn log_driver(value: &str) -> Verdict {
    match value {
        "json-file" | "journald" | "k8s-file" | "local" | "none" => Verdict::Confined,
        _ => Verdict::Host(format!("sends its output through the {value:?} log driver")),
    }
}

/// `-l KEY=VALUE`: the engine labels atomicd marks its own containers with are atomicd's alone.
pub fn label(value: &str) -> Verdict {
    if value.starts_with(crate::label::OWNER_LABEL_PREFIX) {
        Verdict::Refused(format!(
            "-l {value:?}: labels under {} are atomicd's own",
            crate::label::OWNER_LABEL_PREFIX
        ))
    } else {
        Verdict::Confined
    }
}

/// `--privileged`
pub fn privileged(_: &str) -> String {
    "runs privileged: all capabilities and every host device".to_owned()
}

/// `--cap-add`
pub fn cap_add(value: &str) -> String {
    format!("adds capability {value}")
}

/// `--device`
pub fn device(value: &str) -> String {
    format!("gets host device {value}")
}

/// `-p`: a port of the host is taken and opened to the network.
pub fn publish(value: &str) -> String {
    format!("publishes a port on the host: -p {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: &Verdict) -> bool {
        matches!(v, Verdict::Host(_))
    }

    #[test]
    fn values_are_confined_only_when_known_harmless() {
        type Judge = fn(&str) -> Verdict;
        // (judge, value, confined?, refused?)
        let table: &[(Judge, &str, bool, bool)] = &[
            (volume, "data:/data", true, false),
            (volume, "/anon", true, false),
            (volume, "data:/data:ro,Z", true, false),
            (volume, "/:/host", false, false),
            (volume, "/etc:/etc:ro", false, false),
            (volume, "../../..:/host", false, true),
            (volume, "./x:/x", false, true),
            (volume, ".:/x", false, true),
            (volume, "~/x:/x", false, true),
            (volume, ":/x", false, true),
            (volume, "anon", false, true),
            (network, "bridge", true, false),
            (network, "none", true, false),
            (network, "mynet", true, false),
            (network, "slirp4netns", true, false),
            (network, "host", false, false),
            (network, "pasta", false, false),
            (network, "slirp4netns:allow_host_loopback=true", false, false),
            (network, "container:db", false, false),
            (network, "ns:/proc/1/ns/net", false, false),
            (pid, "", true, false),
            (pid, "host", false, false),
            (pid, "container:x", false, false),
            (pid, "ns:/proc/self/ns/pid", false, false),
            (ipc, "shareable", true, false),
            (ipc, "ns:/proc/self/ns/ipc", false, false),
            (uts, "private", true, false),
            (uts, "ns:/proc/self/ns/uts", false, false),
            (userns, "auto", true, false),
            (userns, "host", false, false),
            (mount, "type=volume,src=data,dst=/d", true, false),
            (mount, "type=tmpfs,dst=/t", true, false),
            (mount, "target=/t", true, false),
            (mount, "type=bind,src=/etc,dst=/e", false, false),
            (mount, "type=volume,src=/etc,dst=/e", false, false),
            (mount, "type=bind,src=rel,dst=/e", false, false),
            (security_opt, "no-new-privileges", true, false),
            (security_opt, "unmask=ALL", false, false),
            (security_opt, "label=type:spc_t", false, false),
            (security_opt, "label=disable", false, false),
            (security_opt, "seccomp=unconfined", false, false),
            (log_driver, "journald", true, false),
            (log_driver, "syslog", false, false),
            (label, "app=1", true, false),
            (label, "org.atomic.caller-uid=0", false, true),
        ];
        for (judge, value, confined, refused) in table {
            let v = judge(value);
            assert_eq!(v == Verdict::Confined, *confined, "{value}: {v:?}");
            assert_eq!(matches!(v, Verdict::Refused(_)), *refused, "{value}: {v:?}");
            if !confined && !refused {
                assert!(host(&v), "{value}: {v:?}");
            }
        }
    }

    #[test]
    fn names_never_read_as_paths() {
        for name in ["data", "a.b", "a_b-c", "9vol"] {
            assert!(is_object_name(name), "{name}");
        }
        for not in ["", ".", "..", "../x", "/x", "-x", "a/b", "a:b", "~", ".hidden"] {
            assert!(!is_object_name(not), "{not}");
        }
    }
}
