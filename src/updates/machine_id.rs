//! The machine ID a host gives its fleet: derived from /etc/machine-id with atomicd's own app
//! ID, as sd_id128_get_machine_app_specific(3) derives it, so the raw ID never leaves the host.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// atomicd's app ID for sd_id128_get_machine_app_specific.
pub const APP_ID: &str = "b62d4dffd77142aeb226f119c1b88d69";

/// The app-specific ID of `machine_id` (32 hex digits) for `app_id`, as 32 lowercase hex digits:
/// HMAC-SHA256 keyed with the machine ID's bytes over the app ID's bytes, cut to 128 bits and
/// marked as a version 4, variant 1 UUID.
pub fn app_specific(machine_id: &str, app_id: &str) -> Option<String> {
    let key = hex_bytes(machine_id.trim())?;
    let message = hex_bytes(app_id)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(&message);
    let digest = mac.finalize().into_bytes();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0F) | 0x40;
    id[8] = (id[8] & 0x3F) | 0x80;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// This host's ID for the fleet, from /etc/machine-id.
pub fn fleet_id() -> std::io::Result<String> {
    machine_id().and_then(|raw| host_id_of(&raw).ok_or_else(not_hex))
}

/// The host's own fleet ID from a raw machine ID (None when it is not one).
pub fn host_id_of(machine_id: &str) -> Option<String> {
    app_specific(machine_id, APP_ID)
}

/// The systemd app ID (32 hex digits) of a service that asks for a slot of the fleet's lock:
/// the name itself when it is one (zincati's `de35106b6ec24688b63afddaa156679b`, say, so the
/// slot is the one that service would take itself), else the first 128 bits of the SHA-256 of
/// the name (`printf %s NAME | sha256sum | cut -c1-32`).
pub fn app_id_of(name: &str) -> String {
    if hex_bytes(name).is_some() {
        return name.to_ascii_lowercase();
    }
    use sha2::Digest;
    Sha256::digest(name.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// This host's raw machine ID, which only ever leaves atomicd as app-specific IDs.
pub fn machine_id() -> std::io::Result<String> {
    let raw = std::fs::read_to_string("/etc/machine-id")?;
    let raw = raw.trim().to_owned();
    hex_bytes(&raw).map(|_| raw).ok_or_else(not_hex)
}

fn not_hex() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "/etc/machine-id is not 32 hex digits")
}

fn hex_bytes(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same ID systemd's own derivation gives (systemd-id128 machine-id --app-specific),
    /// when this machine has both; and the shape of the ID either way.
    #[test]
    fn the_id_is_systemds_app_specific_id() {
        let zincati_app = "de35106b6ec24688b63afddaa156679b";
        let ours = app_specific("3d1219c7c4c5404aaa1f6d2a48adfda4", zincati_app);
        // Recorded from `systemd-id128 machine-id --app-specific=de35...679b` (systemd 252) on a
        // machine whose /etc/machine-id is 3d1219c7c4c5404aaa1f6d2a48adfda4.
        assert_eq!(ours.as_deref(), Some("975228d46dc94622b9bbe16671e2b58d"));
        let live = std::process::Command::new("systemd-id128")
            .args(["machine-id", &format!("--app-specific={zincati_app}")])
            .output();
        if let (Ok(out), Ok(raw)) = (live, std::fs::read_to_string("/etc/machine-id")) {
            if out.status.success() {
                let expected = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                assert_eq!(app_specific(&raw, zincati_app), Some(expected));
            }
        }
        assert_ne!(app_specific("3d1219c7c4c5404aaa1f6d2a48adfda4", APP_ID), ours, "another app, another ID");
        for bad in ["", "3d12", "zz1219c7c4c5404aaa1f6d2a48adfda4", "3d1219c7c4c5404aaa1f6d2a48adfda4ff"] {
            assert_eq!(app_specific(bad, APP_ID), None, "{bad:?}");
        }
    }

    #[test]
    fn a_service_s_app_id_is_its_own_when_it_has_one_else_its_name_s_hash() {
        assert_eq!(app_id_of("DE35106B6EC24688B63AFDDAA156679B"), "de35106b6ec24688b63afddaa156679b");
        // printf %s podman-auto-update | sha256sum | cut -c1-32
        let expected = std::process::Command::new("sh")
            .args(["-c", "printf %s podman-auto-update | sha256sum | cut -c1-32"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        let ours = app_id_of("podman-auto-update");
        assert_eq!(ours.len(), 32);
        if let Some(expected) = expected.ok().filter(|e| e.len() == 32) {
            assert_eq!(ours, expected);
        }
        assert_ne!(app_id_of("podman-auto-update"), app_id_of("podman-auto-updatf"));
    }
}
