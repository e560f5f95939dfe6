//! GPG "simple signing" signatures (signedBy): an OpenPGP signed message whose content is the
//! payload, checked against the policy's keyring with sequoia-openpgp.
//!
//! sequoia rather than gpgme: the keys are read from the policy's own files in-process, with no
//! GnuPG home, agent or keyring import, and its pure-Rust backend needs no C toolchain beyond
//! what the build already has. Only verification runs here (public keys), so the backend's
//! variable-time arithmetic leaks nothing secret.

use std::io::Read;

use sequoia_openpgp as openpgp;

use openpgp::cert::{Cert, CertParser};
use openpgp::parse::stream::{MessageLayer, MessageStructure, VerificationHelper, VerifierBuilder};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::KeyHandle;

/// The keys of one signedBy requirement.
#[derive(Debug, Clone)]
pub(super) struct Keyring {
    certs: Vec<Cert>,
}

/// A verified signature's content and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verified {
    /// The signed payload.
    pub payload: Vec<u8>,
    /// The fingerprint of the certificate whose key made it.
    pub signer: String,
}

impl Keyring {
    /// Reads keyring data (binary or ASCII-armoured, one or many certificates).
    pub(super) fn parse(data: &[u8]) -> Result<Keyring, String> {
        let certs = CertParser::from_bytes(data)
            .map_err(|e| format!("not an OpenPGP keyring: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not an OpenPGP keyring: {e}"))?;
        if certs.is_empty() {
            return Err("the keyring holds no key".to_owned());
        }
        Ok(Keyring { certs })
    }

    /// Several keyrings as one.
    pub(super) fn join(rings: Vec<Keyring>) -> Keyring {
        Keyring { certs: rings.into_iter().flat_map(|r| r.certs).collect() }
    }

    /// Verifies a signed message made by one of these keys (valid now, under sequoia's standard
    /// policy) and returns its content, at most `limit` bytes.
    pub(super) fn verify(&self, message: &[u8], limit: usize) -> Result<Verified, String> {
        let policy = StandardPolicy::new();
        let helper = Helper { certs: &self.certs, signer: None };
        let mut verifier = VerifierBuilder::from_bytes(message)
            .and_then(|b| b.with_policy(&policy, None, helper))
            .map_err(|e| format!("the signature does not verify: {e:#}"))?;
        let mut payload = Vec::new();
        verifier
            .by_ref()
            .take(limit as u64 + 1)
            .read_to_end(&mut payload)
            .map_err(|e| format!("the signature does not verify: {e}"))?;
        if payload.len() > limit {
            return Err(format!("the signed payload is larger than {limit} bytes"));
        }
        let signer = verifier.into_helper().signer.ok_or("the signature does not verify")?;
        Ok(Verified { payload, signer })
    }
}

struct Helper<'a> {
    certs: &'a [Cert],
    signer: Option<String>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut why = "it is signed by no key of the policy's keyring".to_owned();
        for layer in structure {
            match layer {
                MessageLayer::Compression { .. } => {}
                MessageLayer::Encryption { .. } => {
                    return Err(openpgp::Error::InvalidOperation("an encrypted message".into()).into())
                }
                MessageLayer::SignatureGroup { results } => {
                    for result in results {
                        match result {
                            Ok(good) => {
                                self.signer = Some(good.ka.cert().fingerprint().to_hex());
                                return Ok(());
                            }
                            Err(e) => why = e.to_string(),
                        }
                    }
                }
            }
        }
        Err(openpgp::Error::InvalidOperation(why).into())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;
    use openpgp::serialize::stream::{LiteralWriter, Message, Signer};
    use openpgp::serialize::Serialize;

    /// A new signing certificate and its public keyring.
    pub(crate) fn key(name: &str) -> (Cert, Vec<u8>) {
        let (cert, _) = CertBuilder::general_purpose(Some(name)).generate().unwrap();
        let mut public = Vec::new();
        cert.serialize(&mut public).unwrap();
        (cert, public)
    }

    /// `payload` signed by `cert`, as gpg --sign writes it.
    pub(crate) fn sign(cert: &Cert, payload: &[u8]) -> Vec<u8> {
        let policy = StandardPolicy::new();
        let keypair = cert
            .keys()
            .with_policy(&policy, None)
            .secret()
            .for_signing()
            .next()
            .and_then(|k| k.key().clone().into_keypair().ok())
            .unwrap_or_else(|| panic!("no signing key"));
        let mut out = Vec::new();
        let message = Message::new(&mut out);
        let message = Signer::new(message, keypair).and_then(|s| s.build()).unwrap();
        let mut literal = LiteralWriter::new(message).build().unwrap();
        std::io::Write::write_all(&mut literal, payload).unwrap();
        literal.finalize().unwrap();
        out
    }

    #[test]
    fn only_a_key_of_the_keyring_verifies() {
        let (signer, public) = key("signer <s@example.org>");
        let (_, other) = key("other <o@example.org>");
        let message = sign(&signer, b"payload");
        let ring = Keyring::parse(&public).unwrap();
        let got = ring.verify(&message, 1024).unwrap();
        assert_eq!(got.payload, b"payload");
        assert_eq!(got.signer, signer.fingerprint().to_hex());
        let wrong = Keyring::parse(&other).unwrap();
        assert!(wrong.verify(&message, 1024).is_err(), "another key's signature");
        assert!(ring.verify(&message, 3).is_err_and(|e| e.contains("larger")), "bounded");
        let mut tampered = message.clone();
        if let Some(i) = tampered.windows(7).position(|w| w == b"payload") {
            tampered[i] = b'P';
        }
        assert!(ring.verify(&tampered, 1024).is_err(), "a changed payload");
        assert!(Keyring::parse(b"not a key").is_err());
        assert!(ring.verify(b"garbage", 1024).is_err());
    }
}
