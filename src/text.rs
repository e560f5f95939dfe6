//! Strings that cross onto the bus or reach a person: D-Bus strings may not hold NUL (the bus
//! daemon drops the whole connection of a sender that tries), error sentences stay short, and an
//! argv is shown as one line a shell would split back into the same words.

use std::borrow::Cow;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A character that must not reach a person raw: a control character (`Cc`: it moves a
/// terminal's cursor or starts a log record) or a format character (`Cf`: bidi overrides and
/// isolates such as U+202E and U+2066, zero-width joiners, U+FEFF), which makes text display in an
/// order other than the one it runs in.
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// Replaces every NUL with U+FFFD, so engine output, labels and engine messages are always
/// valid D-Bus strings.
pub(crate) fn dbus_safe(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Bytes from the engine as a valid D-Bus string: lossy UTF-8, NUL-free.
pub(crate) fn dbus_safe_bytes(bytes: &[u8]) -> String {
    dbus_safe(&String::from_utf8_lossy(bytes)).into_owned()
}

/// The last `limit` bytes of a stream of output, kept without ever holding more than twice that.
#[derive(Debug)]
pub(crate) struct Tail {
    buf: Vec<u8>,
    limit: usize,
}

impl Tail {
    /// An empty tail of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Tail { buf: Vec::new(), limit }
    }

    /// Appends bytes; drops the oldest once twice the limit is held, so trimming stays cheap.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > 2 * self.limit {
            self.buf.drain(..self.buf.len() - self.limit);
        }
    }

    /// The last `limit` bytes as a valid D-Bus string.
    pub(crate) fn into_string(mut self) -> String {
        if self.buf.len() > self.limit {
            self.buf.drain(..self.buf.len() - self.limit);
        }
        dbus_safe_bytes(&self.buf)
    }
}

/// Text with every control and format character written as an escape (`\n`, `\u{1b}`,
/// `\u{202e}`), so a label's or a caller's text can neither move a terminal's cursor, start a new
/// record in a log, nor show its words in another order than the one they run in.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Keeps error sentences short when a caller sends a huge string.
pub(crate) fn truncate_for_message(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}… ({} bytes)", text.len())
    }
}

/// The argv as one shell-quoted line for people and audit logs. Words made only of characters
/// no POSIX shell treats specially are left bare (Python's `shlex.quote` rule), so `--net=host`
/// reads as written; everything else is quoted by shell-words. A word holding a control
/// or format character is written in bash's `$'...'` form with that character escaped, so the
/// line stays one line, cannot drive a terminal, and reads in the order it runs.
pub(crate) fn display_line(argv: &[String]) -> String {
    let bare =
        |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    argv.iter()
        .map(|w| {
            if bare(w) {
                w.clone()
            } else if w.chars().any(is_hidden) {
                ansi_c_quote(w)
            } else {
                shell_words::quote(w).into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `$'...'` quoting: bash reads it back as the same word.
fn ansi_c_quote(word: &str) -> String {
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_hidden(c) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words that take each way of quoting, the hostile ones included.
    fn quoting_cases() -> Vec<Vec<String>> {
        let cases: [&[&str]; 8] = [
            &["sh", "-c", "echo a > /out/x"],
            &["echo", "it's", "", "a b", "~root", "x=1", "50%"],
            &["printf", "a\nb", "$HOME", "`id`", "\"q\"", "a;b|c&d", "*?[#"],
            &["echo", "ok\u{1b}[2K\r", "a\nINFO uid=0", "it's\t"],
            &["echo", "\u{202e}gnp.exe", "zero\u{200b}width", "caf\u{e9}", "\u{7f}"],
            &["/usr/bin/env", "--", "-x", "a,b:c@d+e/f.g_h"],
            &["echo", "back\\slash", "'", "''"],
            &["日本語", "emoji \u{1f600}", "tab\there"],
        ];
        cases.iter().map(|c| c.iter().map(|w| (*w).to_owned()).collect()).collect()
    }

    #[test]
    #[ignore = "runs node on the Cockpit page's command.js; tests/run.sh runs it"]
    fn the_page_quotes_a_command_as_the_cli_does() {
        let cases = quoting_cases();
        let page = concat!(env!("CARGO_MANIFEST_DIR"), "/cockpit/atomic/command.js");
        // command.js imports nothing, so it loads alone from a data: URL as a module.
        let script = format!(
            "const src = require('fs').readFileSync({page:?}, 'utf8');
             import('data:text/javascript,' + encodeURIComponent(src)).then(m => {{
                 const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
                 process.stdout.write(JSON.stringify(cases.map(m.displayLine)));
             }});"
        );
        let mut child = std::process::Command::new("node")
            .args(["-e", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node (Debian's nodejs) runs the page's code");
        let input = serde_json::to_vec(&cases).unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let shown: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let cli: Vec<String> = cases.iter().map(|c| display_line(c)).collect();
        assert_eq!(shown, cli);
        assert_eq!(cli[0], "sh -c 'echo a > /out/x'");
    }

    #[test]
    fn control_characters_never_reach_a_terminal_or_a_log_raw() {
        let argv: Vec<String> =
            ["echo", "ok\u{1b}[2K\r", "a\nINFO uid=0", "it's\t"].map(String::from).to_vec();
        let line = display_line(&argv);
        assert_eq!(line, r"echo $'ok\x1b[2K\r' $'a\nINFO uid=0' $'it\'s\t'");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert_eq!(visible("a\u{1b}[2Kb\n"), "a\\u{1b}[2Kb\\n");
        assert!(matches!(visible("plain words"), Cow::Borrowed(_)));
        // bash reads the line back into the same words.
        let script = format!("for w in {line}; do printf '%s\\0' \"$w\"; done");
        let out = std::process::Command::new("bash").args(["-c", &script]).output();
        let words: Vec<String> = out
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split('\0')
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(words, argv);
    }

    /// A bidi override makes `rm -rf /host` display as something else; every format character
    /// is escaped wherever a label's text is shown, as a control character is.
    #[test]
    fn bidi_and_other_format_characters_are_escaped() {
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{200b}',
            '\u{feff}',
            '\u{e0001}',
        ] {
            assert!(is_hidden(c), "{:?}", c);
            let text = format!("host{c}path");
            assert!(!visible(&text).contains(c), "{:?}", visible(&text));
            let line = display_line(&["echo".to_owned(), text.clone()]);
            assert!(!line.contains(c) && line.starts_with("echo $'host\\x"), "{line}");
        }
        assert_eq!(visible("a\u{202e}b"), "a\\u{202e}b");
        for c in ['é', 'ж', '中', ' ', '\u{00a0}'] {
            assert!(!is_hidden(c), "{:?}", c);
        }
        // bash reads the escaped word back as the word that runs.
        let argv = vec!["printf".to_owned(), "%s".to_owned(), "a\u{202e}b".to_owned()];
        let out = std::process::Command::new("bash").args(["-c", &display_line(&argv)]).output();
        assert_eq!(out.map(|o| o.stdout).unwrap_or_default(), "a\u{202e}b".as_bytes());
    }

    #[test]
    fn display_quotes_only_what_a_shell_would_read_differently() {
        let argv: Vec<String> =
            ["docker", "run", "--net=host", "-e", "A=b c", "img", "sh", "-c", "echo $X; exit 3", "", "x'y"]
                .map(String::from)
                .to_vec();
        let line = display_line(&argv);
        assert_eq!(line, r#"docker run --net=host -e 'A=b c' img sh -c 'echo $X; exit 3' '' 'x'\''y'"#);
        assert_eq!(shell_words::split(&line).unwrap_or_default(), argv, "the line splits back to the argv");
    }

    #[test]
    fn nul_and_invalid_utf8_never_reach_the_bus() {
        assert_eq!(dbus_safe("plain"), "plain");
        assert_eq!(dbus_safe("a\0b"), "a\u{FFFD}b");
        assert_eq!(dbus_safe_bytes(b"init\0--x\xff"), "init\u{FFFD}--x\u{FFFD}");
    }

    #[test]
    fn a_tail_keeps_the_last_bytes_only() {
        let mut tail = Tail::new(4);
        for chunk in [&b"abc"[..], b"defgh", b"ij", b"klmnopqrstu"] {
            tail.push(chunk);
            assert!(tail.buf.len() <= 8);
        }
        assert_eq!(tail.into_string(), "rstu");
        let mut short = Tail::new(4);
        short.push(b"ab");
        assert_eq!(short.into_string(), "ab");
    }

    #[test]
    fn huge_strings_are_cut_in_messages() {
        let huge = "x".repeat(1 << 20);
        let msg = truncate_for_message(&huge);
        assert!(msg.len() < 200 && msg.contains("1048576 bytes"));
    }
}
