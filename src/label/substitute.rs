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
mod tests;
