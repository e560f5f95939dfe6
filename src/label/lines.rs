//! Which `docker run` line a call resolves to: an image's RUN/INSTALL/UNINSTALL label, or the
//! default and super-privileged lines of API.md. Pure functions, no I/O.

use std::collections::HashMap;

/// The labels atomicd acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelKind {
    /// `RUN`
    Run,
    /// `INSTALL`
    Install,
    /// `UNINSTALL`
    Uninstall,
    /// `STOP`
    Stop,
    /// `HELP`
    Help,
    /// `RUN_OPTS_FILE`: the file whose words stand for `${RUN_OPTS}` in the RUN label.
    RunOptsFile,
}

impl LabelKind {
    /// The label's name as documented.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LabelKind::Run => "RUN",
            LabelKind::Install => "INSTALL",
            LabelKind::Uninstall => "UNINSTALL",
            LabelKind::Stop => "STOP",
            LabelKind::Help => "HELP",
            LabelKind::RunOptsFile => "RUN_OPTS_FILE",
        }
    }
}

/// Finds a label by name, ignoring case; an empty or blank label counts as no label.
pub(crate) fn find_label(labels: &HashMap<String, String>, kind: LabelKind) -> Option<&str> {
    let mut matching: Vec<(&String, &String)> =
        labels.iter().filter(|(k, _)| k.eq_ignore_ascii_case(kind.as_str())).collect();
    // Several spellings on one image: prefer the exact upper-case one, then a stable order.
    matching.sort_by_key(|(k, _)| (k.as_str() != kind.as_str(), k.as_str().to_owned()));
    matching.into_iter().map(|(_, v)| v.as_str()).find(|v| !v.trim().is_empty())
}

/// How the caller runs a line: with a terminal, detached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineMode {
    /// A terminal is attached: add `-t`.
    pub tty: bool,
    /// Return at once: add `-d`.
    pub detach: bool,
}

fn line_start(mode: LineMode) -> Vec<String> {
    let mut argv: Vec<String> = ["docker", "run", "-i"].map(String::from).to_vec();
    if mode.tty {
        argv.push("-t".into());
    }
    if mode.detach {
        argv.push("-d".into());
    }
    argv
}

/// `docker run -i [-t] --name NAME IMAGE [command]`: Run of an image without a RUN label. No
/// `--rm`: a tools container is kept, so the next Run of the image runs its command in it (as the
/// original `atomic` was designed for the RHEL tools container).
pub(crate) fn default_line(image: &str, name: &str, mode: LineMode, command: &[String]) -> Vec<String> {
    let mut argv = line_start(mode);
    argv.extend(["--name", name, image].map(String::from));
    argv.extend(command.iter().cloned());
    argv
}

/// The super-privileged container line of the Atomic Host design (API.md, Run with `spc`).
/// `selinux` adds the read-only SELinux mount on hosts that have `/sys/fs/selinux`.
pub(crate) fn spc_line(
    image: &str,
    name: &str,
    mode: LineMode,
    selinux: bool,
    command: &[String],
) -> Vec<String> {
    let mut argv = line_start(mode);
    argv.extend(
        ["--rm", "--privileged", "-v", "/:/host", "-v", "/run:/run", "-v", "/etc/localtime:/etc/localtime"]
            .map(String::from),
    );
    if selinux {
        argv.extend(["-v", "/sys/fs/selinux:/sys/fs/selinux:ro"].map(String::from));
    }
    argv.extend(["--net=host", "--ipc=host", "--pid=host", "-e", "HOST=/host"].map(String::from));
    argv.extend(["-e".to_owned(), format!("NAME={name}"), "-e".to_owned(), format!("IMAGE={image}")]);
    argv.push(image.to_owned());
    argv.extend(command.iter().cloned());
    argv
}

/// Adds `-d` / `-t` after `run` when the caller asked for them and the label's line (already
/// read into `spec`) lacks them, so a label never silently ignores `detach` as the original did.
pub(crate) fn apply_mode(mut argv: Vec<String>, mode: LineMode, spec: &super::RunSpec) -> Vec<String> {
    let Some(run_at) = argv.iter().position(|w| w == "run") else {
        return argv;
    };
    if mode.tty && !spec.tty {
        argv.insert(run_at + 1, "-t".into());
    }
    if mode.detach && !spec.detach {
        argv.insert(run_at + 1, "-d".into());
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn labels_are_found_ignoring_case_and_blank_ones_are_absent() {
        type Case<'a> = (&'a [(&'a str, &'a str)], LabelKind, Option<&'a str>);
        let table: [Case<'_>; 6] = [
            (&[("RUN", "docker run a")], LabelKind::Run, Some("docker run a")),
            (&[("run", "docker run b")], LabelKind::Run, Some("docker run b")),
            (&[("Install", "docker run c")], LabelKind::Install, Some("docker run c")),
            (&[("RUN", "  ")], LabelKind::Run, None),
            (&[("RUN", "x")], LabelKind::Uninstall, None),
            (
                &[("run", "docker run lower"), ("RUN", "docker run upper")],
                LabelKind::Run,
                Some("docker run upper"),
            ),
        ];
        for (pairs, kind, want) in table {
            assert_eq!(find_label(&labels(pairs), kind), want, "{pairs:?}");
        }
    }

    #[test]
    fn default_and_spc_lines_are_the_documented_ones() {
        let cmd = vec!["ls".to_owned(), "-l".to_owned()];
        assert_eq!(
            crate::text::display_line(&default_line(
                "tools",
                "tools",
                LineMode { tty: true, detach: false },
                &cmd
            )),
            "docker run -i -t --name tools tools ls -l"
        );
        assert_eq!(
            crate::text::display_line(&default_line("tools", "t", LineMode::default(), &[])),
            "docker run -i --name t tools"
        );
        assert_eq!(
            crate::text::display_line(&default_line(
                "tools",
                "t",
                LineMode { tty: false, detach: true },
                &[]
            )),
            "docker run -i -d --name t tools"
        );
        assert_eq!(
            crate::text::display_line(&spc_line("tools", "tools-spc", LineMode::default(), true, &[])),
            "docker run -i --rm --privileged -v /:/host -v /run:/run -v /etc/localtime:/etc/localtime \
             -v /sys/fs/selinux:/sys/fs/selinux:ro --net=host --ipc=host --pid=host -e HOST=/host \
             -e NAME=tools-spc -e IMAGE=tools tools"
        );
    }
}
