//! TLS for the lock clients: the CA to trust and the client certificate to show to etcd or a
//! FleetLock server. The files are read each time a client is made, so a renewed certificate is
//! used from the next round on, without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_rustls::ConfigBuilderExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The TLS files of one peer, as the configuration names them; each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM CA certificates trusted instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The PEM certificate chain shown to a server that asks for one (etcd's
    /// `--client-cert-auth`).
    pub cert_file: Option<PathBuf>,
    /// Its PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any file is named.
    pub fn any(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// Why no TLS client could be made; the sentence names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable, or not what its key says.
    #[error("{}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// No CA file is named and the system has no CA certificates.
    #[error("no ca_file is named and the system's CA certificates cannot be read: {0}")]
    NoSystemRoots(String),
    /// rustls refused the settings.
    #[error("TLS settings refused: {0}")]
    Refused(#[from] rustls::Error),
}

fn file_error(path: &Path, detail: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.to_path_buf(), detail: detail.to_string() }
}

/// The certificates of a PEM file; an empty or certificate-less file is an error.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path)? {
        store.add(cert).map_err(|e| file_error(path, format!("a CA certificate is refused: {e}")))?;
    }
    Ok(store)
}

/// A rustls client configuration from `files`: their CA or the system's, and the client
/// certificate when both its files are named (the configuration checks they come in pairs).
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let builder = match &files.ca_file {
        Some(ca) => builder.with_root_certificates(roots(ca)?),
        None => builder.with_native_roots().map_err(|e| TlsError::NoSystemRoots(e.to_string()))?,
    };
    let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) else {
        return Ok(builder.with_no_client_auth());
    };
    let chain = certificates(cert)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    builder
        .with_client_auth_cert(chain, private)
        .map_err(|e| file_error(cert, format!("does not go with the key {}: {e}", key.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("atomicd-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(name);
        let _ = std::fs::write(&path, text);
        path
    }

    fn fixture(name: &str) -> Option<PathBuf> {
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name))
    }

    #[test]
    fn a_ca_and_a_client_certificate_make_a_client() {
        let files = TlsFiles {
            ca_file: fixture("ca.pem"),
            cert_file: fixture("client.pem"),
            key_file: fixture("client-key.pem"),
        };
        let config = client_config(&files).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        let server_only = TlsFiles { ca_file: fixture("ca.pem"), ..Default::default() };
        let config = client_config(&server_only).unwrap();
        assert!(!config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let files = TlsFiles {
            ca_file: fixture("ca.pem"),
            cert_file: fixture("client.pem"),
            key_file: fixture("server-key.pem"),
        };
        let Err(e) = client_config(&files) else { panic!("a mismatched key was accepted") };
        assert!(e.to_string().contains("client.pem: does not go with the key"), "{e}");
    }

    #[test]
    fn a_bad_file_is_named_in_the_error() {
        let missing = PathBuf::from("/nonexistent/ca.pem");
        let empty = scratch("empty.pem", "");
        let not_pem = scratch("not.pem", "hello\n");
        let broken = scratch("broken.pem", "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n");
        // (files, the file named, words of the sentence)
        let table = [
            (TlsFiles { ca_file: Some(missing.clone()), ..Default::default() }, &missing, ""),
            (TlsFiles { ca_file: Some(empty.clone()), ..Default::default() }, &empty, "no PEM certificate"),
            (
                TlsFiles { ca_file: Some(not_pem.clone()), ..Default::default() },
                &not_pem,
                "no PEM certificate",
            ),
            (TlsFiles { ca_file: Some(broken.clone()), ..Default::default() }, &broken, ""),
        ];
        for (files, named, words) in table {
            let Err(e) = client_config(&files) else { panic!("{files:?} was accepted") };
            let sentence = e.to_string();
            assert!(sentence.starts_with(&named.display().to_string()), "{sentence}");
            assert!(sentence.contains(words), "{sentence} should say {words}");
        }
    }
}
