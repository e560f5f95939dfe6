//! cosign signatures (sigstoreSigned with public keys): a base64 signature over the payload blob,
//! checked with the sigstore crate's verification keys. Only keys: no Fulcio, no Rekor, nothing
//! fetched by the crate itself.

use sigstore::crypto::{CosignVerificationKey, Signature};

/// The public keys of one sigstoreSigned requirement.
pub(super) struct Keys {
    keys: Vec<CosignVerificationKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({})", self.keys.len())
    }
}

impl Keys {
    /// Reads PEM public keys (ECDSA, Ed25519, RSA, as cosign makes them).
    pub(super) fn parse(pems: &[Vec<u8>]) -> Result<Keys, String> {
        let keys = pems
            .iter()
            .map(|pem| {
                CosignVerificationKey::try_from_pem(pem)
                    .map_err(|e| format!("not a public key in PEM form: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keys { keys })
    }

    /// The index of the key that made `signature_base64` over `payload`, if one did.
    pub(super) fn verify(&self, signature_base64: &str, payload: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| {
            k.verify_signature(Signature::Base64Encoded(signature_base64.trim().as_bytes()), payload).is_ok()
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine as _;
    use sigstore::crypto::SigningScheme;

    /// A new ECDSA P-256 key pair, as `cosign generate-key-pair` makes: (signer, public PEM).
    pub(crate) fn key() -> (sigstore::crypto::SigStoreSigner, Vec<u8>) {
        let signer = SigningScheme::ECDSA_P256_SHA256_ASN1.create_signer().unwrap();
        let pem = signer.to_sigstore_keypair().and_then(|k| k.public_key_to_pem()).unwrap();
        (signer, pem.into_bytes())
    }

    /// cosign's annotation value: the signature, base64.
    pub(crate) fn sign(signer: &sigstore::crypto::SigStoreSigner, payload: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(signer.sign(payload).unwrap())
    }

    #[test]
    fn only_the_policy_s_key_verifies_the_payload_it_signed() {
        let (signer, pem) = key();
        let (_, other) = key();
        let signature = sign(&signer, b"payload");
        let keys = Keys::parse(&[other.clone(), pem]).unwrap();
        assert_eq!(keys.verify(&signature, b"payload"), Some(1));
        assert_eq!(keys.verify(&signature, b"Payload"), None, "a changed payload");
        assert_eq!(Keys::parse(&[other]).map(|k| k.verify(&signature, b"payload")).ok(), Some(None));
        assert_eq!(keys.verify("not base64!", b"payload"), None);
        assert!(Keys::parse(&[b"-----BEGIN NOTHING-----".to_vec()]).is_err());
    }
}
