//! Shell completions (bash, zsh, fish) and the man page, written from the clap definitions
//! themselves, so they can never describe another CLI; `make build` writes them and `make
//! install` installs them.

use std::fs::File;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// The files and where a distribution puts each, under `$(DATADIR)`.
pub const FILES: [(&str, &str); 4] = [
    ("atomic.bash", "bash-completion/completions/atomic"),
    ("_atomic", "zsh/vendor-completions/_atomic"),
    ("atomic.fish", "fish/vendor_completions.d/atomic.fish"),
    ("atomic.1", "man/man1/atomic.1"),
];

/// Writes the completions and the man page into `dir`.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (shell, file) in [(Shell::Bash, FILES[0].0), (Shell::Zsh, FILES[1].0), (Shell::Fish, FILES[2].0)] {
        let mut out = File::create(dir.join(file))?;
        clap_complete::generate(shell, &mut Cli::command(), "atomic", &mut out);
    }
    let mut man = File::create(dir.join(FILES[3].0))?;
    clap_mangen::Man::new(Cli::command()).render(&mut man)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_reaches_the_completions_and_the_man_page() {
        let dir = std::env::temp_dir().join(format!("atomic-generated-{}", std::process::id()));
        write_all(&dir).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let visible: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_owned())
            .collect();
        assert!(visible.len() >= 10, "{visible:?}");
        for name in &visible {
            for file in ["atomic.bash", "_atomic", "atomic.fish", "atomic.1"] {
                assert!(read(file).contains(name.as_str()), "{file} lacks {name}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
