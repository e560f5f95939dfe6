//! The label core, pure and without I/O: image references, the substitution of a label's text
//! into words, the `docker run` flag table with each flag's privilege class, the default and
//! super-privileged lines, the structured flag values parsed once for the judge and the engine,
//! and the engine labels atomicd writes on its own containers.

mod env_files;
mod lines;
mod owner;
mod privilege;
mod reference;
#[cfg(test)]
mod reference_parity;
mod spec;
mod substitute;
mod values;

pub(crate) use lines::{apply_mode, default_line, find_label, spc_line, LabelKind, LineMode};
pub(crate) use owner::{Ownership, OWNER_LABEL_PREFIX};
pub(crate) use reference::{is_digest, registry_of, validate_container_name, ImageRef};
pub(crate) use spec::RunSpec;
#[cfg(test)]
pub(crate) use spec::{flags_that_may_reach_the_host, is_engine_program};
pub(crate) use substitute::{mentions_run_opts, resolve, Vars};
pub(crate) use values::{MountKind, Restart, VolumeSource};
