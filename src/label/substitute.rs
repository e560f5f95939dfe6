//! A label's text into an argv: refuse shell syntax, split keeping the label's own quoting, and
//! substitute `IMAGE`, `NAME` and `$VARIABLES` as the original `atomic` tool did. Pure.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::text::truncate_for_message;

/// The longest label atomicd reads: real RUN lines are a few hundred bytes; a label is image
/// author input, and Info reads it for any caller.
pub(super) const MAX_LABEL_BYTES: usize = 64 * 1024;
/// The most words a label may split into.
pub(super) const MAX_LABEL_WORDS: usize = 4096;
/// The most a label may become once its variables are substituted (`$OPT1` repeated can multiply
/// a caller's option many times over).
pub(super) const MAX_RESOLVED_BYTES: usize = 256 * 1024;

/// The values a label may refer to. `None` means the caller did not give one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Vars {
    /// `IMAGE`: the image as the caller wrote it.
    pub image: String,
    /// `NAME`: the container name.
    pub name: String,
    /// `$OPT1`..`$OPT3`
    pub opts: [Option<String>; 3],
    /// `$PWD`: the caller's working directory.
    pub pwd: Option<String>,
    /// `$SUDO_UID`
    pub sudo_uid: Option<u32>,
    /// `$SUDO_GID`
    pub sudo_gid: Option<u32>,
    /// `$HOME`: the caller's home directory.
    pub home: Option<String>,
    /// `${RUN_OPTS}`: the words of the RUN_OPTS_FILE the caller read, each one word of the line.
    pub run_opts: Option<Vec<String>>,
}

/// The variable that stands for the words of the RUN_OPTS_FILE, as the original `atomic` had it.
pub(crate) const RUN_OPTS: &str = "RUN_OPTS";

/// Whether a word of a label is exactly `$RUN_OPTS` or `${RUN_OPTS}`.
fn is_run_opts_word(word: &str) -> bool {
    word.strip_prefix('$').is_some_and(|w| {
        w == RUN_OPTS || w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) == Some(RUN_OPTS)
    })
}

/// Whether `label` refers to `$RUN_OPTS` or `${RUN_OPTS}` anywhere (not `$RUN_OPTSX`).
pub(crate) fn mentions_run_opts(label: &str) -> bool {
    label.contains("${RUN_OPTS}")
        || label.match_indices("$RUN_OPTS").any(|(at, m)| {
            !label[at + m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl Vars {
    fn lookup(&self, var: &str) -> Option<String> {
        match var {
            "IMAGE" => Some(self.image.clone()),
            "NAME" => Some(self.name.clone()),
            "OPT1" => self.opts[0].clone(),
            "OPT2" => self.opts[1].clone(),
            "OPT3" => self.opts[2].clone(),
            "PWD" => self.pwd.clone(),
            "SUDO_UID" => self.sudo_uid.map(|n| n.to_string()),
            "SUDO_GID" => self.sudo_gid.map(|n| n.to_string()),
            "HOME" => self.home.clone(),
            _ => None,
        }
    }
}

/// A label resolved to words, with what the caller should know about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The argv.
    pub argv: Vec<String>,
    /// Variables that expanded to nothing, one sentence each.
    pub warnings: Vec<String>,
}

fn refuse(label: &str, why: &str) -> Error {
    Error::UnsupportedLabel(format!(
        "the label {:?} {why}; atomicd runs one docker run line and never a shell",
        truncate_for_message(label)
    ))
}

/// Refuses what only a shell would give meaning to: command separators, pipes, redirections,
/// background jobs outside quotes; command substitution (`$(`, backticks) anywhere a shell
/// would perform it, i.e. outside single quotes.
pub(super) fn check_shell_syntax(label: &str) -> Result<()> {
    #[derive(PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut q = Q::None;
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        match (&q, c) {
            (Q::Single, '\'') => q = Q::None,
            (Q::Single, _) => {}
            (_, '\\') => {
                chars.next();
            }
            (Q::None, '\'') => q = Q::Single,
            (Q::None, '"') => q = Q::Double,
            (Q::Double, '"') => q = Q::None,
            (_, '`') => return Err(refuse(label, "uses backtick command substitution")),
            (_, '$') if chars.peek() == Some(&'(') => {
                return Err(refuse(label, "uses $( command substitution"))
            }
            (Q::None, ';') => return Err(refuse(label, "contains ';'")),
            (Q::None, '&') => return Err(refuse(label, "contains '&' or '&&'")),
            (Q::None, '|') => return Err(refuse(label, "contains a pipe")),
            (Q::None, '>' | '<') => return Err(refuse(label, "contains a redirection")),
            (Q::None, '\n' | '\r') => return Err(refuse(label, "spans several lines")),
            _ => {}
        }
    }
    if q != Q::None {
        return Err(refuse(label, "has an unbalanced quote"));
    }
    Ok(())
}

/// What substitution has said and spent so far, for one label: the unset variables already
/// warned of (a set, so a label of 90,000 `$Vn` words stays linear) and the bytes produced.
#[derive(Default)]
struct Expansion {
    warnings: Vec<String>,
    warned: HashSet<String>,
    bytes: usize,
}

/// Expands `$VAR` and `${VAR}` in one word; unknown or unset variables become empty and are
/// reported once each in `warnings`.
fn expand(word: &str, vars: &Vars, seen: &mut Expansion) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|(i, c)| !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit()))
                .map_or(after.len(), |(i, _)| i);
            (&after[..end], end)
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            // A lone `$`, `$1`, `$$`, `${}`: not a variable; kept as written.
            out.push('$');
            rest = after;
            continue;
        }
        match vars.lookup(name) {
            Some(value) => out.push_str(&value),
            None => {
                if seen.warned.insert(name.to_owned()) {
                    seen.warnings.push(format!("${name} is not set and expanded to nothing"));
                }
            }
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// Resolves a label: bound, check, split (quotes kept), substitute, then append `extra` words as
/// given. Linear in the label, and bounded before any of it is read: a label over 64 KiB or 4,096
/// words, or one that substitutes to over 256 KiB, is refused.
pub(crate) fn resolve(label: &str, vars: &Vars, extra: &[String]) -> Result<Resolved> {
    if label.len() > MAX_LABEL_BYTES {
        return Err(refuse(
            label,
            &format!("is {} bytes long, over the {MAX_LABEL_BYTES} atomicd reads", label.len()),
        ));
    }
    check_shell_syntax(label)?;
    let words = shell_words::split(label).map_err(|e| refuse(label, &format!("cannot be split: {e}")))?;
    if words.len() > MAX_LABEL_WORDS {
        return Err(refuse(
            label,
            &format!("has {} words, over the {MAX_LABEL_WORDS} atomicd reads", words.len()),
        ));
    }
    let mut seen = Expansion::default();
    let mut argv: Vec<String> = Vec::with_capacity(words.len() + extra.len());
    for w in &words {
        if is_run_opts_word(w) {
            // Several words where one stood, each judged by the flag table like the label's own.
            let Some(opts) = vars.run_opts.as_ref() else {
                if seen.warned.insert(RUN_OPTS.to_owned()) {
                    seen.warnings.push(format!("${RUN_OPTS} is not set and expanded to nothing"));
                }
                continue;
            };
            seen.bytes += opts.iter().map(String::len).sum::<usize>();
            if seen.bytes > MAX_RESOLVED_BYTES {
                return Err(refuse(label, &format!("substitutes to over {MAX_RESOLVED_BYTES} bytes")));
            }
            argv.extend(opts.iter().cloned());
            continue;
        }
        if mentions_run_opts(w) {
            return Err(refuse(
                label,
                "uses $RUN_OPTS inside a word; it stands for several words and must be one of its own",
            ));
        }
        let word = match w.as_str() {
            "IMAGE" => vars.image.clone(),
            "NAME" => vars.name.clone(),
            "IMAGE=IMAGE" => format!("IMAGE={}", vars.image),
            "NAME=NAME" => format!("NAME={}", vars.name),
            other => expand(other, vars, &mut seen),
        };
        seen.bytes += word.len();
        if seen.bytes > MAX_RESOLVED_BYTES {
            return Err(refuse(label, &format!("substitutes to over {MAX_RESOLVED_BYTES} bytes")));
        }
        // A word that was only variables and expanded to nothing disappears, as an unquoted
        // expansion does in a shell (`$OPT2` unset must not become an empty image).
        if !word.is_empty() || w.is_empty() {
            argv.push(word);
        }
    }
    argv.extend(extra.iter().cloned());
    Ok(Resolved { argv, warnings: seen.warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            image: "atomic-test-1".into(),
            name: "TEST1".into(),
            opts: [Some("-d".into()), None, Some("--x=1".into())],
            pwd: Some("/home/u/src".into()),
            sudo_uid: Some(1000),
            sudo_gid: Some(100),
            home: Some("/home/u".into()),
            run_opts: None,
        }
    }

    fn line(label: &str, extra: &[&str]) -> Result<Resolved> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        resolve(label, &vars(), &extra)
    }

    /// A hostile label is bounded and linear: 90,000 unset `$Vn` words are refused by their count
    /// at once, and the largest label atomicd reads, all distinct variables, resolves in
    /// linear time (a quadratic warning list took a minute for this).
    #[test]
    fn hostile_labels_are_bounded_and_linear() {
        let huge: String = std::iter::once("docker run IMAGE".to_owned())
            .chain((0..90_000).map(|n| format!(" $V{n}")))
            .collect();
        for label in [huge.clone(), format!("docker run {} IMAGE", "x".repeat(MAX_LABEL_BYTES))] {
            match resolve(&label, &vars(), &[]) {
                Err(Error::UnsupportedLabel(m)) => assert!(m.contains("over the"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        let words: String = (0..MAX_LABEL_WORDS - 3).map(|n| format!(" $V{n}")).collect();
        let widest = format!("docker run IMAGE{words}");
        assert!(widest.len() <= MAX_LABEL_BYTES);
        let r = resolve(&widest, &vars(), &[]).unwrap();
        assert_eq!(r.warnings.len(), MAX_LABEL_WORDS - 3, "each unset variable said once");
        let repeated = format!("docker run IMAGE{}", " $UNSET".repeat(1000));
        assert_eq!(resolve(&repeated, &vars(), &[]).map(|r| r.warnings.len()).ok(), Some(1));
        // A caller's option repeated cannot multiply past the bound.
        let big = Vars { opts: [Some("y".repeat(60 * 1024)), None, None], ..vars() };
        let times = format!("docker run IMAGE {}", "$OPT1 ".repeat(8));
        assert!(
            matches!(resolve(&times, &big, &[]), Err(Error::UnsupportedLabel(m)) if m.contains("substitutes"))
        );
    }

    #[test]
    fn substitution_table() {
        let table: &[(&str, &[&str], &str)] = &[
            ("docker run IMAGE", &[], "docker run atomic-test-1"),
            (
                "docker run --name NAME -e NAME=NAME -e IMAGE=IMAGE IMAGE",
                &[],
                "docker run --name TEST1 -e NAME=TEST1 -e IMAGE=atomic-test-1 atomic-test-1",
            ),
            (
                "docker run -v ${PWD}:/src -v $HOME/.cfg:/cfg IMAGE",
                &[],
                "docker run -v /home/u/src:/src -v /home/u/.cfg:/cfg atomic-test-1",
            ),
            (
                "docker run -e U=$SUDO_UID -e G=${SUDO_GID} IMAGE",
                &[],
                "docker run -e U=1000 -e G=100 atomic-test-1",
            ),
            ("docker run $OPT1 IMAGE $OPT3", &[], "docker run -d atomic-test-1 --x=1"),
            ("docker run IMAGE sh -c 'echo a b'", &[], "docker run atomic-test-1 sh -c 'echo a b'"),
            ("docker run IMAGE sh -c \"echo $NAME\"", &[], "docker run atomic-test-1 sh -c 'echo TEST1'"),
            ("docker run IMAGE sh -c 'echo $$ $1 $'", &[], "docker run atomic-test-1 sh -c 'echo $$ $1 $'"),
            (
                "docker run -v /var/lib/NAME:/data IMAGE",
                &[],
                "docker run -v /var/lib/NAME:/data atomic-test-1",
            ),
            ("docker run IMAGE echo", &["a b", "c"], "docker run atomic-test-1 echo 'a b' c"),
            ("docker run IMAGE echo", &["$NAME"], "docker run atomic-test-1 echo '$NAME'"),
        ];
        for (label, extra, want) in table {
            let got = line(label, extra).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(crate::text::display_line(&got.argv), *want, "{label}");
            assert!(got.warnings.is_empty(), "{label}: {:?}", got.warnings);
        }
    }

    #[test]
    fn unknown_variables_become_empty_with_one_warning_each() {
        let got = line("docker run -e A=$UNDEF/x -e B=${UNDEF} $OPT2 IMAGE", &[]).unwrap();
        assert_eq!(got.argv, ["docker", "run", "-e", "A=/x", "-e", "B=", "atomic-test-1"]);
        assert_eq!(
            got.warnings,
            ["$UNDEF is not set and expanded to nothing", "$OPT2 is not set and expanded to nothing"]
        );
    }

    /// `${RUN_OPTS}` becomes the caller's words, each a word of the line as if the label had
    /// it (a space inside one stays inside it); unset, it is nothing with a warning; inside a
    /// larger word it is refused, since several words cannot stand in one.
    #[test]
    fn run_opts_stand_for_words_of_their_own() {
        let with = Vars {
            run_opts: Some(vec!["--hostname=www.example.test".into(), "-e".into(), "A=b c".into()]),
            ..vars()
        };
        let got = resolve("docker run --rm ${RUN_OPTS} IMAGE $RUN_OPTS", &with, &[]).unwrap();
        assert_eq!(
            got.argv,
            [
                "docker",
                "run",
                "--rm",
                "--hostname=www.example.test",
                "-e",
                "A=b c",
                "atomic-test-1",
                "--hostname=www.example.test",
                "-e",
                "A=b c"
            ]
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);

        let got = line("docker run ${RUN_OPTS} IMAGE", &[]).unwrap();
        assert_eq!(got.argv, ["docker", "run", "atomic-test-1"]);
        assert_eq!(got.warnings, ["$RUN_OPTS is not set and expanded to nothing"]);

        for inside in ["docker run -e X=${RUN_OPTS} IMAGE", "docker run $RUN_OPTS/x IMAGE"] {
            let err = resolve(inside, &with, &[]).unwrap_err();
            assert!(matches!(err, Error::UnsupportedLabel(_)), "{inside}: {err}");
        }
        assert!(!mentions_run_opts("docker run -e $RUN_OPTSX IMAGE"));
        assert!(mentions_run_opts("docker run $RUN_OPTS IMAGE"));
    }

    #[test]
    fn shell_syntax_is_refused() {
        let table = [
            ("docker run IMAGE; rm -rf /", "';'"),
            ("docker run IMAGE && reboot", "'&'"),
            ("docker run IMAGE | tee x", "pipe"),
            ("docker run IMAGE > /etc/passwd", "redirection"),
            ("docker run `id` IMAGE", "backtick"),
            ("docker run $(id) IMAGE", "$("),
            ("docker run IMAGE sh -c \"$(id)\"", "$("),
            ("docker run IMAGE\nreboot", "several lines"),
            ("docker run IMAGE 'unbalanced", "unbalanced"),
        ];
        for (label, needle) in table {
            match line(label, &[]) {
                Err(Error::UnsupportedLabel(msg)) => {
                    assert!(msg.contains(needle), "{label}: {msg}")
                }
                other => panic!("{label}: {other:?}"),
            }
        }
        // Inside single quotes the same characters are the container's business.
        let ok = line("docker run IMAGE sh -c 'a; b && c | d > e $(f) `g`'", &[]).unwrap();
        assert_eq!(ok.argv.last().map(String::as_str), Some("a; b && c | d > e $(f) `g`"));
    }

    /// The original tool's display test (tests/integration/test_display.sh, LABELS.md): same
    /// line, except that undefined $OPT2 is reported instead of silently dropped.
    #[test]
    fn golden_original_atomic_display() {
        let label = "/usr/bin/docker run -t ${OPT1} -v /var/log/${NAME}:/var/log -v /var/lib/${NAME}:/var/lib $OPT2 --name ${NAME} ${IMAGE} $OPT3 echo I am the run label.";
        let v = Vars { image: "atomic-test-1".into(), name: "TEST1".into(), ..Vars::default() };
        let got = resolve(label, &v, &[]).unwrap();
        assert_eq!(
            crate::text::display_line(&got.argv),
            "/usr/bin/docker run -t -v /var/log/TEST1:/var/log -v /var/lib/TEST1:/var/lib --name TEST1 atomic-test-1 echo I am the run label."
        );
        assert_eq!(got.warnings.len(), 3);
    }

    /// podman's runlabel system test (test/system/037-runlabel.bats): same lines, with our
    /// documented differences: IMAGE is the caller's spelling (podman writes
    /// `localhost/runlabel_image:latest`), the program word stays as written, and unset
    /// $OPT1/$OPT2 are reported as warnings.
    #[test]
    fn golden_podman_runlabel_display() {
        let label = "podman  run  -t  -i  --rm  ${OPT1}  --privileged  -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=$HOME -e NAME=${NAME} -e IMAGE=${IMAGE} -e CONFDIR=/etc/${NAME} -e LOGDIR=/var/log/${NAME} -e DATADIR=/var/lib/${NAME} ${IMAGE} ${OPT2} /bin/install.sh ${OPT3}";
        let full = Vars {
            image: "runlabel_image".into(),
            name: "test1".into(),
            opts: [Some("r1".into()), Some("r2".into()), Some("r3".into())],
            home: Some("/root".into()),
            ..Vars::default()
        };
        let got = resolve(label, &full, &[]).unwrap();
        assert_eq!(
            crate::text::display_line(&got.argv),
            "podman run -t -i --rm r1 --privileged -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=/root -e NAME=test1 -e IMAGE=runlabel_image -e CONFDIR=/etc/test1 -e LOGDIR=/var/log/test1 -e DATADIR=/var/lib/test1 runlabel_image r2 /bin/install.sh r3"
        );
        assert!(got.warnings.is_empty());
        // With a flag in OPT1 (the test's random words would stand where the image is read),
        // the line translates: image, then the command.
        let flagged =
            Vars { opts: [Some("--init".into()), Some("r2".into()), Some("r3".into())], ..full.clone() };
        let argv = resolve(label, &flagged, &[]).unwrap().argv;
        let spec = crate::label::RunSpec::from_argv(&argv).unwrap();
        assert!(spec.init && spec.privileged);
        assert_eq!(spec.image, "runlabel_image");
        assert_eq!(spec.command, ["r2", "/bin/install.sh", "r3"]);

        let bare = Vars {
            image: "runlabel_image".into(),
            name: "runlabel_image".into(),
            opts: [None, None, Some("r3".into())],
            home: Some("/root".into()),
            ..Vars::default()
        };
        let got = resolve(label, &bare, &[]).unwrap();
        assert_eq!(
            crate::text::display_line(&got.argv),
            "podman run -t -i --rm --privileged -v /:/host --net=host --ipc=host --pid=host -e HOST=/host -e HOMEDIR=/root -e NAME=runlabel_image -e IMAGE=runlabel_image -e CONFDIR=/etc/runlabel_image -e LOGDIR=/var/log/runlabel_image -e DATADIR=/var/lib/runlabel_image runlabel_image /bin/install.sh r3"
        );
        assert_eq!(got.warnings.len(), 2);
    }
}
