//! The engine's image and container lists in atomicd's words: one list call each, with the
//! exit code read from the status line the list already carries rather than one inspect each.

use bollard::models::{ContainerSummary as EngineContainer, ImageSummary as EngineImage};

use super::{ContainerSummary, ImageSummary};
use crate::text::dbus_safe;

/// An RFC 3339 time as seconds since the epoch; 0 when it cannot be read.
pub(super) fn epoch(rfc3339: &str) -> u64 {
    humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z').split('.').next().unwrap_or(""))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The code in an engine's status line: "Exited (3) 2 minutes ago" is 3.
pub(super) fn exit_code(status: &str) -> Option<i32> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.trim().parse().ok()
}

/// One container of the engine's list.
pub(super) fn container(c: EngineContainer) -> ContainerSummary {
    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| dbus_safe(n.trim_start_matches('/')).into_owned())
            .unwrap_or_default(),
        running: state == "running",
        // Whose it is comes from atomicd's own record, which the manager holds.
        owner: None,
        image: dbus_safe(c.image.as_deref().unwrap_or_default()).into_owned(),
        image_id: c.image_id.unwrap_or_default(),
        exit_code: c.status.as_deref().and_then(exit_code),
        created: c.created.and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
        state,
    }
}

/// One image of the engine's list.
pub(super) fn image(i: EngineImage) -> ImageSummary {
    let mut tags: Vec<String> = i
        .repo_tags
        .into_iter()
        .filter(|t| t != "<none>:<none>")
        .map(|t| dbus_safe(&t).into_owned())
        .collect();
    tags.sort();
    ImageSummary {
        id: i.id,
        tags,
        created: u64::try_from(i.created).unwrap_or(0),
        size: u64::try_from(i.size).unwrap_or(0),
        repo_digests: i.repo_digests,
        labels: i
            .labels
            .into_iter()
            .map(|(k, v)| (dbus_safe(&k).into_owned(), dbus_safe(&v).into_owned()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_times_as_both_engines_write_them() {
        let table = [
            ("Exited (3) 2 minutes ago", Some(3)),
            ("Exited (137) About a minute ago", Some(137)),
            ("Up 5 seconds", None),
            ("Created", None),
            ("", None),
        ];
        for (status, code) in table {
            assert_eq!(exit_code(status), code, "{status}");
        }
        assert_eq!(epoch("2026-11-28T22:20:40.123456789Z"), 1_795_904_440);
        assert_eq!(epoch("2026-11-28T22:20:40Z"), 1_795_904_440);
        assert_eq!(epoch("not a time"), 0);
    }
}
