//! What each value of a `docker run` flag may do to the host, decided by allowlist: a value is
//! confined only when it is known to be harmless; every other value touches the host (and then
//! needs `org.atomic.run-privileged`) or is refused outright. Structured values are judged from
//! their parsed form ([`super::values`]), the same value the engine is given.

use super::values::{is_object_name, EngineLabel, Mount, MountKind, Volume, VolumeSource};

/// The verdict on one flag and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Stays inside the container.
    Confined,
    /// Reaches the host: one sentence for the banner and the polkit dialog.
    Host(String),
    /// Not accepted at all (the engine would read it against something atomicd cannot see).
    Refused(String),
}

/// How a flag of the table is classified. Every flag carries one, in the table itself.
#[derive(Clone, Copy)]
pub(super) enum Class {
    /// Harmless whatever its value.
    Confined,
    /// Touches the host whatever its value (for a switch: when it is on).
    Host(fn(&str) -> String),
    /// Decided per value.
    ByValue(fn(&str) -> Verdict),
    /// Parsed into a typed value first ([`super::values`]), which is judged and then given to
    /// the engine as it is.
    Parsed,
}

impl Class {
    /// The verdict on `value` (a switch is judged only while it is on).
    pub(super) fn judge(self, value: &str) -> Verdict {
        match self {
            Class::Confined => Verdict::Confined,
            Class::Host(say) => Verdict::Host(say(value)),
            Class::ByValue(judge) => judge(value),
            // The spec parses these itself and judges the parsed value; a bare string is not
            // known to be harmless.
            Class::Parsed => Verdict::Refused(format!("{value:?} must be parsed before it is judged")),
        }
    }
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
pub(super) fn network(value: &str) -> Verdict {
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
pub(super) fn pid(value: &str) -> Verdict {
    namespace("process", value, &["", "private"])
}

/// `--ipc`
pub(super) fn ipc(value: &str) -> Verdict {
    namespace("IPC", value, &["", "private", "shareable", "none"])
}

/// `--uts`
pub(super) fn uts(value: &str) -> Verdict {
    namespace("UTS", value, &["", "private"])
}

/// `--userns`
pub(super) fn userns(value: &str) -> Verdict {
    namespace("user", value, &["", "private", "auto"])
}

/// `-v`: an anonymous or named volume is confined; a host path reaches the host. The value
/// was parsed once ([`Volume::parse`]); the create body writes the same parts.
pub(super) fn volume(v: &Volume) -> Verdict {
    match &v.source {
        VolumeSource::Anonymous | VolumeSource::Named(_) => Verdict::Confined,
        VolumeSource::Host(source) => Verdict::Host(format!("mounts host path {source} at {}", v.target)),
    }
}

/// `--mount`: volumes (by name) and tmpfs are confined; a bind reaches the host. Judged from
/// the parsed mount ([`Mount::parse`]), which is also what the engine is given.
pub(super) fn mount(m: &Mount) -> Verdict {
    match (m.kind, &m.source) {
        (MountKind::Bind, Some(source)) => {
            Verdict::Host(format!("bind-mounts host path {source} at {}", m.target))
        }
        // Mount::parse refuses a bind without a source; should one ever get here, it is the host's.
        (MountKind::Bind, None) => Verdict::Host(format!("bind-mounts a host path at {}", m.target)),
        (MountKind::Volume | MountKind::Tmpfs, _) => Verdict::Confined,
    }
}

/// `--security-opt`: only `no-new-privileges` is known to confine rather than relax.
pub(super) fn security_opt(value: &str) -> Verdict {
    match value {
        "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => Verdict::Confined,
        _ => Verdict::Host(format!("changes its confinement: --security-opt {value}")),
    }
}

/// `--log-driver`: the drivers that keep logs on the engine's side.
pub(super) fn log_driver(value: &str) -> Verdict {
    match value {
        "json-file" | "journald" | "k8s-file" | "local" | "none" => Verdict::Confined,
        _ => Verdict::Host(format!("sends its output through the {value:?} log driver")),
    }
}

/// `-l KEY=VALUE`: the engine labels atomicd marks its own containers with are atomicd's alone
/// (they say nothing to atomicd itself, which keeps its own record, but they tell people).
pub(super) fn label(l: &EngineLabel) -> Verdict {
    if l.key.starts_with(crate::label::OWNER_LABEL_PREFIX) {
        Verdict::Refused(format!(
            "-l {:?}: labels under {} are atomicd's own",
            l.key,
            crate::label::OWNER_LABEL_PREFIX
        ))
    } else {
        Verdict::Confined
    }
}

/// `--privileged`
pub(super) fn privileged(_: &str) -> String {
    "runs privileged: all capabilities and every host device".to_owned()
}

/// `--cap-add`
pub(super) fn cap_add(value: &str) -> String {
    format!("adds capability {value}")
}

/// `--device`
pub(super) fn device(value: &str) -> String {
    format!("gets host device {value}")
}

/// `-p`: a port of the host is taken and opened to the network.
pub(super) fn publish(value: &str) -> String {
    format!("publishes a port on the host: -p {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: &Verdict) -> bool {
        matches!(v, Verdict::Host(_))
    }

    /// The structured flags as the spec takes them: parsed (a parse refusal is a refusal), then judged.
    fn vol(text: &str) -> Verdict {
        Volume::parse(text).map_or_else(Verdict::Refused, |v| volume(&v))
    }

    fn mnt(text: &str) -> Verdict {
        Mount::parse(text).map_or_else(Verdict::Refused, |m| mount(&m))
    }

    fn lbl(text: &str) -> Verdict {
        EngineLabel::parse(text).map_or_else(Verdict::Refused, |l| label(&l))
    }

    #[test]
    fn values_are_confined_only_when_known_harmless() {
        type Judge = fn(&str) -> Verdict;
        // (judge, value, confined?, refused?)
        let table: &[(Judge, &str, bool, bool)] = &[
            (vol, "data:/data", true, false),
            (vol, "/anon", true, false),
            (vol, "data:/data:ro,Z", true, false),
            (vol, "/:/host", false, false),
            (vol, "/etc:/etc:ro", false, false),
            (vol, "../../..:/host", false, true),
            (vol, "./x:/x", false, true),
            (vol, ".:/x", false, true),
            (vol, "~/x:/x", false, true),
            (vol, ":/x", false, true),
            (vol, "anon", false, true),
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
            (mnt, "type=volume,src=data,dst=/d", true, false),
            (mnt, "type=tmpfs,dst=/t", true, false),
            (mnt, "target=/t", true, false),
            (mnt, "type=bind,src=/etc,dst=/e", false, false),
            (mnt, "type=volume,src=/etc,dst=/e", false, true),
            (mnt, "type=bind,src=rel,dst=/e", false, true),
            (mnt, "type=volume,source=x,type=bind,source=/,target=/host", false, true),
            (mnt, "type=tmpfs,source=/etc,target=/t", false, true),
            (mnt, "Type=bind,source=/,target=/host", false, true),
            (security_opt, "no-new-privileges", true, false),
            (security_opt, "unmask=ALL", false, false),
            (security_opt, "label=type:spc_t", false, false),
            (security_opt, "label=disable", false, false),
            (security_opt, "seccomp=unconfined", false, false),
            (log_driver, "journald", true, false),
            (log_driver, "syslog", false, false),
            (lbl, "app=1", true, false),
            (lbl, "org.atomic.caller-uid=0", false, true),
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
}
