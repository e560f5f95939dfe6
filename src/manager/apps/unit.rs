//! The unit of an application: its name, its text, and its file. The text only names the
//! application: the unit's process asks atomicd to run its record, so an edited unit cannot
//! widen what runs. The file is written beside the admin's own units, and one atomicd did not
//! write (no application record of that name) is never overwritten.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::label::validate_container_name;
use crate::text::truncate_for_message;

const PREFIX: &str = "atomic-app-";
const SUFFIX: &str = ".service";
/// systemd's limit on a unit name (UNIT_NAME_MAX).
const UNIT_NAME_MAX: usize = 255;

/// `atomic-app-NAME.service`.
pub(crate) fn unit_name(name: &str) -> String {
    format!("{PREFIX}{name}{SUFFIX}")
}

/// An application's name must be a container name and, within the unit's name, a valid unit
/// name part: systemd refuses names over 255 characters.
pub(crate) fn check_name(name: &str) -> Result<()> {
    validate_container_name(name)?;
    let max = UNIT_NAME_MAX - PREFIX.len() - SUFFIX.len();
    if name.len() > max {
        return Err(Error::InvalidArgument(format!(
            "{:?} cannot name an application's unit: atomic-app-NAME.service must be a systemd unit name, \
             so NAME has at most {max} characters (it has {})",
            truncate_for_message(name),
            name.len()
        )));
    }
    Ok(())
}

/// The unit's text. `client` is the `atomic` program; NAME is a checked name (letters, digits,
/// `_.-`), so it needs no quoting and holds no specifier.
pub(crate) fn unit_text(name: &str, client: &Path) -> String {
    let client = client.display();
    format!(
        "# Written by atomicd for the application {name}; `atomic uninstall --name {name} IMAGE` removes it.\n\
         # atomicd runs its own record of the plan authorized at install, not the words of this\n\
         # file: editing it does not change what the container may do.\n\
         [Unit]\n\
         Description=atomic application {name}\n\
         Documentation=man:atomic(1)\n\
         Wants=network-online.target\n\
         After=network-online.target atomicd.service\n\
         \n\
         [Service]\n\
         Type=exec\n\
         ExecStart={client} apps run {name}\n\
         ExecStop={client} apps stop {name}\n\
         SyslogIdentifier={name}\n\
         Restart=on-failure\n\
         RestartSec=5s\n\
         # A container stopped by SIGTERM exits 143.\n\
         SuccessExitStatus=143\n\
         TimeoutStopSec=70s\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// Where the applications' units are written (`/etc/systemd/system`), and the client they run.
#[derive(Debug, Clone)]
pub struct UnitFiles {
    /// The unit directory.
    pub dir: PathBuf,
    /// The `atomic` program.
    pub client: PathBuf,
}

impl UnitFiles {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(unit_name(name))
    }

    /// Whether a file of that unit's name is in the directory.
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.path(name).symlink_metadata().is_ok()
    }

    /// Writes the unit (a crash leaves the old file or the new one), readable by all as units
    /// are, though atomicd's umask is 077.
    pub(crate) fn write(&self, name: &str) -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("cannot create {}", self.dir.display()), e))?;
        crate::system::state::replace_file(&path, unit_text(name, &self.client).as_bytes())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(format!("cannot make {} readable", path.display()), e))?;
        Ok(path)
    }

    /// Removes the unit's file; one already gone is removed.
    pub(crate) fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.path(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("cannot remove {}", self.path(name).display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_container_name_that_fits_in_a_unit_name() {
        check_name("web-1.prod_a").unwrap();
        let longest = "a".repeat(UNIT_NAME_MAX - PREFIX.len() - SUFFIX.len());
        check_name(&longest).unwrap();
        assert_eq!(unit_name(&longest).len(), UNIT_NAME_MAX);
        for bad in ["", "-x", "a b", "a@b", "a/b", "x\nExecStart=/bin/sh", "é", "a%i"] {
            assert!(matches!(check_name(bad), Err(Error::InvalidArgument(_))), "{bad:?} passed");
        }
        let long = format!("{longest}a");
        let e = check_name(&long).unwrap_err().to_string();
        assert!(e.contains("at most 236 characters"), "{e}");
    }

    #[test]
    fn the_unit_names_the_application_and_nothing_it_runs() {
        let text = unit_text("web", Path::new("/usr/bin/atomic"));
        assert!(text.contains("\nExecStart=/usr/bin/atomic apps run web\n"), "{text}");
        assert!(text.contains("\nExecStop=/usr/bin/atomic apps stop web\n"), "{text}");
        assert!(text.contains("\nSyslogIdentifier=web\n"), "{text}");
        assert!(text.contains("\nWantedBy=multi-user.target\n"), "{text}");
        // Nothing of the image or its line is in the file.
        assert!(!text.contains("docker"), "{text}");
    }

    #[test]
    fn the_file_is_readable_by_all_and_removed_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("atomicd-units-{}", std::process::id()));
        let files = UnitFiles { dir: dir.clone(), client: "/usr/bin/atomic".into() };
        assert!(!files.exists("web"));
        let path = files.write("web").unwrap();
        assert_eq!(path, dir.join("atomic-app-web.service"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        assert!(files.exists("web"));
        files.remove("web").unwrap();
        files.remove("web").unwrap();
        assert!(!files.exists("web"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
