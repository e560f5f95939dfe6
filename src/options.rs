//! Checked access to the `a{sv}` options of every method: unknown keys and wrong types are refused.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};

use zbus::zvariant::{OwnedValue, Value};

use crate::error::{Error, Result};

/// The D-Bus type a known option key must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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
    /// `as`
    Strings,
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
            Kind::Strings => "as",
            Kind::StrMap => "a{ss}",
        }
    }
}

/// The option keys a method accepts, with their types.
pub type Schema = &'static [(&'static str, Kind)];

/// Options that passed their method's schema.
#[derive(Debug, Default)]
pub struct Options {
    values: HashMap<String, OwnedValue>,
}

impl Options {
    /// Checks every key against `schema`; the first unknown key or wrong type is an error naming it.
    pub fn parse(values: HashMap<String, OwnedValue>, schema: Schema) -> Result<Self> {
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
    pub fn flag(&self, key: &str) -> bool {
        self.flag_or(key, false)
    }

    /// A boolean option with its own default.
    pub fn flag_or(&self, key: &str, default: bool) -> bool {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// A string option.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A `u` option.
    pub fn u32(&self, key: &str) -> Option<u32> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::U32(n)) => Some(*n),
            _ => None,
        }
    }

    /// An `as` option, empty when absent.
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// An `a{ss}` option, empty when absent.
    pub fn str_map(&self, key: &str) -> std::collections::HashMap<String, String> {
        self.values
            .get(key)
            .and_then(|v| <std::collections::HashMap<String, String>>::try_from(v.clone()).ok())
            .unwrap_or_default()
    }

    /// A `(qq)` option.
    pub fn size(&self, key: &str) -> Option<(u16, u16)> {
        self.values.get(key).and_then(|v| <(u16, u16)>::try_from(v.clone()).ok())
    }

    /// A file descriptor option, duplicated so the caller's message can be dropped.
    pub fn fd(&self, key: &str) -> Result<Option<OwnedFd>> {
        match self.values.get(key).map(|v| &**v) {
            Some(Value::Fd(fd)) => {
                let owned = fd
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Error::Failed(format!("cannot duplicate fd option {key:?}: {e}")))?;
                Ok(Some(owned))
            }
            _ => Ok(None),
        }
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
