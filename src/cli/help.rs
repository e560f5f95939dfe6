//! `atomic help IMAGE`: the image's HELP label, whose output atomicd streams to our stdout, or
//! its `/help.1` rendered with man (or groff) when this host has one, else printed as text.
//! The page is the image author's: its control and format characters never reach the terminal.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use super::{label_output, opt_values, print_warnings, sudo, with_env_files, working_dir, Failure};
use crate::dbus::proxy::{HelpOptions, ManagerProxy};

/// `atomic help`
pub(super) async fn help(proxy: &ManagerProxy<'_>, a: super::args::HelpArgs) -> Result<u8, Failure> {
    let [opt1, opt2, opt3] = opt_values(&a.opts);
    let options = |env_files| HelpOptions {
        stdout: label_output(std::io::stdout().as_fd(), false),
        stderr: label_output(std::io::stderr().as_fd(), false),
        pwd: working_dir(),
        sudo_uid: sudo("SUDO_UID"),
        sudo_gid: sudo("SUDO_GID"),
        name: a.name.clone(),
        opt1: opt1.clone(),
        opt2: opt2.clone(),
        opt3: opt3.clone(),
        env_files,
    };
    let r = with_env_files(&a.opts.allow_env_file, async |env_files| {
        proxy.help(&a.image, &options(env_files)).await.map_err(Failure::from)
    })
    .await?;
    print_warnings(&r.warnings);
    if let Some(page) = r.man_page {
        show_man_page(&shown(&page));
        return Ok(0);
    }
    if let Some(output) = r.output {
        print!("{}", shown(&output));
    }
    Ok(u8::try_from(r.exit_code.unwrap_or(0)).unwrap_or(1))
}

/// The text without control and format characters but newlines and tabs: troff needs none of
/// them, and a terminal must not be sent an image author's escape sequences.
pub(super) fn shown(text: &str) -> String {
    text.chars().filter(|c| matches!(c, '\n' | '\t') || !crate::text::is_hidden(*c)).collect()
}

/// Renders the page with `man -l -` or `groff -man -Tutf8`, the first this host has; prints it
/// as it is when neither runs.
fn show_man_page(page: &str) {
    let renderers: [&[&str]; 2] = [&["man", "-l", "-"], &["groff", "-man", "-Tutf8"]];
    for argv in renderers {
        let Ok(mut child) = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::piped()).spawn() else {
            continue;
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(page.as_bytes());
        }
        if child.wait().is_ok_and(|s| s.success()) {
            return;
        }
    }
    print!("{page}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_image_s_escape_sequences_do_not_reach_the_terminal() {
        let page = ".TH X 1\n\u{1b}]0;owned\u{7}\tok\u{202e}\n";
        assert_eq!(super::shown(page), ".TH X 1\n]0;owned\tok\n");
    }
}
