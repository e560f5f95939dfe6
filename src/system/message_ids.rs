//! The journal's MESSAGE_ID of each kind of record atomicd writes, so `journalctl
//! MESSAGE_ID=...` finds every record of one kind across restarts and versions; the texts that
//! explain them are in systemd/atomicd.catalog.

/// atomicd started and reads its engine and host.
pub(crate) const STARTING: &str = "49fa6e8c263e4ffd85904d042609057c";
/// atomicd owns org.atomic and answers calls.
pub(crate) const SERVING: &str = "6655090426034ef996d30b65c421d48d";
/// atomicd is stopping (SIGTERM or idle).
pub(crate) const STOPPING: &str = "37a631d4d99642d599400d349692777e";
/// polkit allowed a plan: what runs, with its image ID and resolved line.
pub(crate) const AUTHORIZED: &str = "ee723c9906d94011963db81615219b32";
/// A job started.
pub(crate) const JOB_STARTED: &str = "18d098ac759e4a76b2dac30944ff9281";
/// A job ended, with its outcome.
pub(crate) const JOB_ENDED: &str = "4aae4db1661b4367838a2b84381c8236";
/// Someone asked a job to stop (Cancel, or its caller left the bus).
pub(crate) const CANCEL_REQUESTED: &str = "a1378f40135746ef9b45f46bd5dbf345";
/// The container engine came or went.
pub(crate) const ENGINE_CHANGED: &str = "13fc4cf563314677887ee3c881b924e9";
/// The host's deployments changed (an upgrade, rollback, deploy, pin or cleanup).
pub(crate) const HOST_CHANGED: &str = "2d3a4fd1b75243789c70b45ca3c4fa29";
/// The signature policy refused an image for what a plan would do with it.
pub(crate) const UNTRUSTED: &str = "9a3d44eb90f647df928b08950e38a217";
/// An application's update round ended: updated, rolled back, or stopped for approval.
pub(crate) const APP_UPDATE: &str = "08cc74ca499a4cd08a0237ec9bed9029";

/// Every id with its name, for the catalog test.
#[cfg(test)]
pub(crate) const ALL: [(&str, &str); 11] = [
    ("STARTING", STARTING),
    ("SERVING", SERVING),
    ("STOPPING", STOPPING),
    ("AUTHORIZED", AUTHORIZED),
    ("JOB_STARTED", JOB_STARTED),
    ("JOB_ENDED", JOB_ENDED),
    ("CANCEL_REQUESTED", CANCEL_REQUESTED),
    ("ENGINE_CHANGED", ENGINE_CHANGED),
    ("HOST_CHANGED", HOST_CHANGED),
    ("UNTRUSTED", UNTRUSTED),
    ("APP_UPDATE", APP_UPDATE),
];

#[cfg(test)]
mod tests {
    /// Each id has its catalog entry, and the catalog names no other.
    #[test]
    fn the_catalog_explains_every_id() {
        let catalog = include_str!("../../systemd/atomicd.catalog");
        let listed: Vec<&str> =
            catalog.lines().filter_map(|l| l.strip_prefix("-- ")).map(str::trim).collect();
        let mut ids: Vec<&str> = super::ALL.iter().map(|(_, id)| *id).collect();
        let mut listed_sorted = listed.clone();
        ids.sort_unstable();
        listed_sorted.sort_unstable();
        assert_eq!(listed_sorted, ids);
        for (name, id) in super::ALL {
            assert_eq!(id.len(), 32, "{name}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{name}");
        }
    }
}
