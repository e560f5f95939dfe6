//! One act at a time on an application: an update round (with its health gate), a rollback,
//! settling an update a crash cut short, and an uninstall each claim the name first, and a
//! second act on that name meanwhile gets Busy. Without it an uninstall during a health gate
//! saw the gate roll back, which restarted the unit and saved the record again after the
//! uninstall had removed it.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};

/// The applications acted on now, with what is being done to each.
#[derive(Debug, Default)]
pub(crate) struct Claims(Mutex<BTreeMap<String, &'static str>>);

/// An application claimed for one act; dropping it lets the next one in.
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    claims: &'a Claims,
    name: String,
}

impl Claims {
    /// Claims `name` for `what` ("an update round", ...), or says what holds it.
    pub(crate) fn claim(&self, name: &str, what: &'static str) -> Result<Claim<'_>> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(other) = held.get(name) {
            return Err(Error::Busy(format!(
                "application {name:?} is busy: {other} is under way; try again when it ends"
            )));
        }
        held.insert(name.to_owned(), what);
        Ok(Claim { claims: self, name: name.to_owned() })
    }

    /// Whether an act on `name` is under way.
    pub(crate) fn busy(&self, name: &str) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains_key(name)
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_act_on_a_claimed_application_is_busy_until_the_first_ends() {
        let claims = Claims::default();
        let first = claims.claim("web", "an update round").expect("free");
        let Err(Error::Busy(why)) = claims.claim("web", "an uninstall") else { panic!("not busy") };
        assert!(why.contains("an update round is under way"), "{why}");
        assert!(claims.claim("db", "an uninstall").is_ok(), "another name is free");
        assert!(claims.busy("web"));
        drop(first);
        assert!(!claims.busy("web"));
        assert!(claims.claim("web", "an uninstall").is_ok());
    }
}
