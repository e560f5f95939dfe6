//! The `a{sv}` options of every method: unknown keys and wrong types are refused naming the key,
//! and each method's options become the manager's typed request in one place.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use zbus::zvariant::{OwnedValue, Value};

use crate::error::{Error, Result};
use crate::manager::{CallerFds, InstallRequest, LabelInputs, RunRequest, UninstallRequest};

/// Run's options.
const RUN_OPTIONS: Schema = &[
    ("spc", Kind::Bool),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("detach", Kind::Bool),
    ("replace", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdin", Kind::Fd),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
    ("tty", Kind::Bool),
    ("tty-size", Kind::Size),
    ("pwd", Kind::Str),
    ("sudo-uid", Kind::U32),
    ("sudo-gid", Kind::U32),
    ("env-files", Kind::StrMap),
];
/// Install's options.
const INSTALL_OPTIONS: Schema = &[
    ("env-files", Kind::StrMap),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
    ("pull", Kind::Bool),
];
/// Uninstall's options.
const UNINSTALL_OPTIONS: Schema = &[
    ("env-files", Kind::StrMap),
    ("name", Kind::Str),
    ("display", Kind::Bool),
    ("force", Kind::Bool),
    ("keep-image", Kind::Bool),
    ("opt1", Kind::Str),
    ("opt2", Kind::Str),
    ("opt3", Kind::Str),
    ("stdout", Kind::Fd),
    ("stderr", Kind::Fd),
];
/// HostUpgrade's options.
const UPGRADE_OPTIONS: Schema = &[("check", Kind::Bool), ("reboot", Kind::Bool)];
/// Rollback's options.
const ROLLBACK_OPTIONS: Schema = &[("reboot", Kind::Bool)];

type Dict = HashMap<String, OwnedValue>;

/// Run's request from its arguments and options.
pub fn run_request(image: String, command: Vec<String>, options: Dict) -> Result<RunRequest> {
    let mut o = Options::parse(options, RUN_OPTIONS)?;
    let fds =
        CallerFds { stdin: o.take_fd("stdin")?, stdout: o.take_fd("stdout")?, stderr: o.take_fd("stderr")? };
    Ok(RunRequest {
        image,
        command,
        spc: o.flag("spc"),
        display: o.flag("display"),
        detach: o.flag("detach"),
        replace: o.flag("replace"),
        tty: o.flag("tty"),
        tty_size: o.size("tty-size"),
        inputs: o.inputs(),
        fds,
    })
}

/// Install's request.
pub fn install_request(image: String, options: Dict) -> Result<InstallRequest> {
    let o = Options::parse(options, INSTALL_OPTIONS)?;
    Ok(InstallRequest {
        image,
        display: o.flag("display"),
        pull: o.flag_or("pull", true),
        inputs: o.inputs(),
    })
}

/// Uninstall's request.
pub fn uninstall_request(image: String, options: Dict) -> Result<UninstallRequest> {
    let o = Options::parse(options, UNINSTALL_OPTIONS)?;
    Ok(UninstallRequest {
        image,
        display: o.flag("display"),
        force: o.flag("force"),
        keep_image: o.flag("keep-image"),
        inputs: o.inputs(),
    })
}

/// HostUpgrade's `check` and `reboot`.
pub fn upgrade_request(options: Dict) -> Result<(bool, bool)> {
    let o = Options::parse(options, UPGRADE_OPTIONS)?;
    Ok((o.flag("check"), o.flag("reboot")))
}

/// Rollback's `reboot`.
pub fn rollback_request(options: Dict) -> Result<bool> {
    Ok(Options::parse(options, ROLLBACK_OPTIONS)?.flag("reboot"))
}

/// The D-Bus type a known option key must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `b`
    Bool,
    /// `s`
    Str,
    /// `u`
    U32,
    /// `h`, a file descriptor
    Fd,
    /// `(qq)`, rows and columns
    Size,
    /// `a{ss}`
    StrMap,
}

impl Kind {
    fn signature(self) -> &'static str {
        match self {
            Kind::Bool => "b",
            Kind::Str => "s",
            Kind::U32 => "u",
            Kind::Fd => "h",
            Kind::Size => "(qq)",
            Kind::StrMap => "a{ss}",
        }
    }
}

/// The option keys a method accepts, with their types.
type Schema = &'static [(&'static str, Kind)];

/// Options that passed their method's schema.
#[derive(Debug, Default)]
struct Options {
    values: HashMap<String, OwnedValue>,
}

impl Options {
    /// Checks every key against `schema`; the first unknown key or wrong type is an error naming it.
    fn parse(values: HashMap<String, OwnedValue>, schema: Schema) -> Result<Self> {
        let mut keys: Vec<&String> = values.keys().collect();
        keys.sort();
        for key in keys {
            let Some((_, kind)) = schema.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
                return Err(Error::InvalidArgument(format!(
                    "unknown option {:?} (known: {})",
                    crate::text::truncate_for_message(key),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            };
            let found = values[key].value_signature().to_string();
            if found != kind.signature() {
                return Err(Error::InvalidArgument(format!(
                    "option {key:?} must be of type {} but is {found}",
                    kind.signature()
                )));
            }
        }
        Ok(Options { values })
    }

    /// A boolean option, false when absent.
    fn flag(&self, key: &str) -> bool {
        self.flag_or(key, false)
    }

    /// A boolean option with its own default.
    fn flag_or(&self, key: &str, default: bool) -> bool {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// A string option.
    fn string(&self, key: &str) -> Option<&str> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A `u` option.
    fn u32(&self, key: &str) -> Option<u32> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::U32(n)) => Some(*n),
            _ => None,
        }
    }

    /// The inputs a label's line may use.
    fn inputs(&self) -> LabelInputs {
        let owned = |k: &str| self.string(k).map(str::to_owned);
        LabelInputs {
            name: owned("name"),
            opts: [owned("opt1"), owned("opt2"), owned("opt3")],
            pwd: owned("pwd"),
            sudo_uid: self.u32("sudo-uid"),
            sudo_gid: self.u32("sudo-gid"),
            env_files: self.str_map("env-files"),
        }
    }

    /// An `a{ss}` option, empty when absent.
    fn str_map(&self, key: &str) -> std::collections::HashMap<String, String> {
        self.values
            .get(key)
            .and_then(|v| <std::collections::HashMap<String, String>>::try_from(v.clone()).ok())
            .unwrap_or_default()
    }

    /// A `(qq)` option.
    fn size(&self, key: &str) -> Option<(u16, u16)> {
        self.values.get(key).and_then(|v| <(u16, u16)>::try_from(v.clone()).ok())
    }

    /// A file descriptor option, moved out of the options: the descriptor zbus received is the
    /// one kept, so a call waiting on polkit holds no copy of it.
    fn take_fd(&mut self, key: &str) -> Result<Option<OwnedFd>> {
        let Some(value) = self.values.remove(key) else { return Ok(None) };
        let fd = zbus::zvariant::Fd::try_from(value)
            .map_err(|e| Error::InvalidArgument(format!("option {key:?} is not a file descriptor: {e}")))?;
        OwnedFd::try_from(fd)
            .map(Some)
            .map_err(|e| Error::Failed(format!("cannot keep fd option {key:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = &[("spc", Kind::Bool), ("name", Kind::Str), ("tty-size", Kind::Size)];

    fn opts(pairs: Vec<(&str, Value<'static>)>) -> HashMap<String, OwnedValue> {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), OwnedValue::try_from(v).unwrap_or_else(|e| panic!("{e}"))))
            .collect()
    }

    #[test]
    fn known_keys_of_the_right_type_pass() {
        let o = Options::parse(
            opts(vec![
                ("spc", Value::Bool(true)),
                ("name", Value::from("x")),
                ("tty-size", Value::from((24u16, 80u16))),
            ]),
            SCHEMA,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.flag("spc"));
        assert_eq!(o.string("name"), Some("x"));
        assert_eq!(o.size("tty-size"), Some((24, 80)));
        assert!(!o.flag("display"));
        assert!(o.flag_or("pull", true));
    }

    /// Install and Uninstall take the keys the introspection XML documents for them: fds for
    /// the label's output, and none of Run's `pwd`/`sudo-*`.
    #[test]
    fn install_and_uninstall_keep_their_documented_keys() {
        for schema in [INSTALL_OPTIONS, UNINSTALL_OPTIONS] {
            let keys: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
            assert!(keys.contains(&"stdout") && keys.contains(&"stderr"), "{keys:?}");
            assert!(!keys.iter().any(|k| ["pwd", "sudo-uid", "sudo-gid"].contains(k)), "{keys:?}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let table: Vec<(Vec<(&str, Value<'static>)>, &str)> = vec![
            (vec![("bogus", Value::Bool(true))], "\"bogus\""),
            (vec![("spc", Value::from("yes"))], "\"spc\" must be of type b but is s"),
            (vec![("name", Value::U32(1))], "\"name\" must be of type s"),
            (vec![("tty-size", Value::from((1u32, 2u32)))], "\"tty-size\" must be of type (qq)"),
        ];
        for (input, needle) in table {
            match Options::parse(opts(input), SCHEMA) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains(needle), "{msg}"),
                other => panic!("expected InvalidArgument containing {needle}, got {other:?}"),
            }
        }
    }
}
