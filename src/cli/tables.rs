//! Tables and the info sheet for `atomic images`, `atomic containers` and `atomic info`: columns
//! sized to their contents, text from images and containers with control characters escaped.

use std::fmt::Write;

use crate::dbus::proxy::{AppEntry, ContainerEntry, ImageEntry, InfoResult, LabelInfo};

use super::job::printable;
use super::render::short;

/// Rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&mut out, header.to_vec());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
    out
}

/// `atomic apps`: each application with its unit's state, image and last result.
pub(super) fn apps(entries: &[AppEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|a| {
            vec![
                printable(&a.name),
                printable(&a.unit_state),
                printable(&a.container),
                printable(&a.image),
                short(&a.image_id).to_owned(),
                printable(&a.last_result),
            ]
        })
        .collect();
    table(&["NAME", "UNIT", "CONTAINER", "IMAGE", "IMAGE ID", "LAST RESULT"], &rows)
}

/// Bytes in the units `docker images` uses.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    // Display only: precision beyond a decimal is not wanted.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long ago a time in seconds since the epoch was, roughly.
pub(super) fn ago(epoch: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let secs = now.saturating_sub(epoch);
    match secs {
        _ if epoch == 0 => "unknown".into(),
        0..60 => plural(secs, "second"),
        60..3600 => plural(secs / 60, "minute"),
        3600..86_400 => plural(secs / 3600, "hour"),
        _ => plural(secs / 86_400, "day"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

/// `atomic images`
pub(super) fn images(list: &[ImageEntry]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                printable(&i.image),
                short(&i.image_id).to_owned(),
                ago(i.created),
                size(i.size),
                if i.labels.is_empty() { "-".into() } else { i.labels.join(",") },
                if i.installed { "yes".into() } else { String::new() },
                printable(&i.verified),
            ]
        })
        .collect();
    table(&["IMAGE", "ID", "CREATED", "SIZE", "LABELS", "INSTALLED", "VERIFIED"], &rows)
}

/// `atomic containers`
pub(super) fn containers(list: &[ContainerEntry]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let state = match (c.state.as_str(), c.exit_code) {
                ("exited", Some(code)) => format!("exited ({code})"),
                (state, _) => printable(state),
            };
            let by = match (&c.operation, c.started_by) {
                (Some(op), Some(uid)) => format!("{} by uid {uid}", printable(op)),
                _ => "not atomicd's".into(),
            };
            vec![
                printable(&c.name),
                short(&c.container_id).to_owned(),
                printable(&c.image),
                state,
                ago(c.created),
                by,
            ]
        })
        .collect();
    table(&["NAME", "ID", "IMAGE", "STATE", "CREATED", "MADE BY"], &rows)
}

fn label_lines(out: &mut String, title: &str, label: Option<&LabelInfo>) {
    let Some(l) = label else { return };
    let _ = writeln!(out, "{title}:");
    if !l.label.is_empty() {
        let _ = writeln!(out, "  label:      {}", printable(&l.label));
    }
    match &l.error {
        Some(why) => {
            let _ = writeln!(out, "  not supported: {}", printable(why));
        }
        None => {
            let _ = writeln!(out, "  runs:       {}", crate::text::display_line(&l.command));
            if l.privileges.is_empty() {
                let _ = writeln!(out, "  privileges: none (stays inside the container)");
            }
            for p in &l.privileges {
                let _ = writeln!(out, "  privileges: {}", printable(p));
            }
        }
    }
}

/// `atomic info`
pub(super) fn info(i: &InfoResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "image:      {}", printable(&i.image));
    let _ = writeln!(out, "id:         {}", i.image_id);
    let _ = writeln!(out, "created:    {} ({})", super::render::timestamp(i.created), ago(i.created));
    let _ = writeln!(out, "size:       {}", size(i.size));
    if !i.version.is_empty() {
        let _ = writeln!(out, "version:    {}", printable(&i.version));
    }
    match &i.installed {
        Some(r) => {
            let _ = writeln!(out, "installed:  as {} by uid {}", printable(&r.name), r.installed_by);
        }
        None => {
            let _ = writeln!(out, "installed:  no");
        }
    }
    let containers =
        if i.containers.is_empty() { "none".into() } else { printable(&i.containers.join(", ")) };
    let _ = writeln!(out, "containers: {containers}");
    label_lines(&mut out, "RUN", i.run.as_ref());
    label_lines(&mut out, "INSTALL", i.install.as_ref());
    label_lines(&mut out, "UNINSTALL", i.uninstall.as_ref());
    label_lines(&mut out, "STOP", i.stop.as_ref());
    if !i.help.is_empty() {
        let _ = writeln!(out, "HELP:\n  {}", printable(&i.help));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_columns_read_as_docker_s_do() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(4_300_000), "4.3 MB");
        let t = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()]]);
        assert_eq!(t, "A          LONGER\nwide cell  x\n");
    }
}
