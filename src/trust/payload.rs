//! The signed claim of containers-signature(5): which manifest digest, under which identity. The
//! GPG and cosign payloads share it, each with its own `type`.

use serde::Deserialize;

/// The `type` of a GPG "simple signing" payload.
pub(super) const SIMPLE_SIGNING: &str = "atomic container signature";
/// The `type` of a cosign payload.
pub(super) const COSIGN: &str = "cosign container image signature";

/// What a verified signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Claim {
    /// The manifest digest it signs.
    pub digest: String,
    /// The reference it signs it as.
    pub reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    critical: Critical,
    // Free-form by the format (creator, timestamp, cosign's annotations).
    #[serde(default)]
    #[allow(dead_code)]
    optional: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    image: Image,
    identity: IdentityField,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityField {
    #[serde(rename = "docker-reference")]
    reference: String,
}

/// Reads a payload whose signature has been verified; `kind` is the type it must have.
pub(super) fn read(bytes: &[u8], kind: &str) -> Result<Claim, String> {
    let payload: Payload = serde_json::from_slice(bytes)
        .map_err(|e| format!("the signed payload is not containers-signature(5): {e}"))?;
    if payload.critical.kind != kind {
        return Err(format!("the signed payload is of type {:?}, not {kind:?}", payload.critical.kind));
    }
    Ok(Claim { digest: payload.critical.image.digest, reference: payload.critical.identity.reference })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_claim_of_its_type_is_read() {
        let good = br#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:ab"},"identity":{"docker-reference":"r/x:1"}},"optional":{"creator":"skopeo"}}"#;
        assert_eq!(
            read(good, SIMPLE_SIGNING),
            Ok(Claim { digest: "sha256:ab".into(), reference: "r/x:1".into() })
        );
        assert!(read(good, COSIGN).is_err_and(|e| e.contains("not \"cosign")));
        let extra = br#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:ab"},"identity":{"docker-reference":"r/x:1"},"also":1}}"#;
        assert!(read(extra, SIMPLE_SIGNING).is_err(), "an unknown critical field is not ignored");
        assert!(read(b"\x00garbage", SIMPLE_SIGNING).is_err());
    }
}
