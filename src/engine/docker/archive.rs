//! A file out of a container through the archive API (`GET /containers/{id}/archive`): the
//! engine answers with a tar stream, read no further than the file's bound allows.

use std::io::Read;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::errors::classify;
use crate::error::{Error, Result};

/// What a tar stream of one file holds besides the file: its header blocks (a PAX header for a
/// long name included) and the end-of-archive padding.
const TAR_SLACK: usize = 64 * 1024;

/// The regular file at `path`, `None` when the container has nothing there.
pub(super) async fn read_file(
    docker: &Docker,
    socket: &str,
    id: &str,
    path: &str,
    limit: usize,
) -> Result<Option<Vec<u8>>> {
    let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
    let mut stream = docker.download_from_container(id, Some(options));
    let mut archive = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => archive.extend_from_slice(&bytes),
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
            Err(e) => return Err(classify(socket, &format!("reading {path} from container {id}"), e)),
        }
        if archive.len() > limit + TAR_SLACK {
            return Err(too_big(path, limit));
        }
    }
    file_in_tar(&archive, path, limit)
}

fn too_big(path: &str, limit: usize) -> Error {
    Error::Failed(format!("{path} in the image is over {limit} bytes, more than atomicd reads"))
}

/// The first entry of `archive` when it is a regular file of at most `limit` bytes; a link or a
/// directory at that path counts as no file (atomicd follows nothing an image author points at).
pub(super) fn file_in_tar(archive: &[u8], path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
    let unreadable = |e: std::io::Error| Error::EngineError(format!("the engine's archive of {path}: {e}"));
    let mut tar = tar::Archive::new(archive);
    let mut entries = tar.entries().map_err(unreadable)?;
    let Some(entry) = entries.next() else { return Ok(None) };
    let entry = entry.map_err(unreadable)?;
    if !entry.header().entry_type().is_file() {
        return Ok(None);
    }
    let size = entry.header().size().map_err(unreadable)?;
    if usize::try_from(size).map_or(true, |s| s > limit) {
        return Err(too_big(path, limit));
    }
    let mut content = Vec::new();
    entry.take(limit as u64 + 1).read_to_end(&mut content).map_err(unreadable)?;
    if content.len() > limit {
        return Err(too_big(path, limit));
    }
    Ok(Some(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(name: &str, kind: tar::EntryType, content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        if kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/shadow").unwrap();
        }
        builder.append_data(&mut header, name, content).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn only_a_regular_file_within_the_bound_is_read() {
        let page = tar_of("help.1", tar::EntryType::Regular, b".TH TEST 1\n");
        assert_eq!(file_in_tar(&page, "/help.1", 1024).unwrap().as_deref(), Some(&b".TH TEST 1\n"[..]));
        let link = tar_of("help.1", tar::EntryType::Symlink, b"");
        assert_eq!(file_in_tar(&link, "/help.1", 1024).unwrap(), None);
        let big = tar_of("help.1", tar::EntryType::Regular, &[b'x'; 2048]);
        assert!(
            matches!(file_in_tar(&big, "/help.1", 1024), Err(Error::Failed(m)) if m.contains("over 1024"))
        );
        assert_eq!(file_in_tar(&[], "/help.1", 1024).unwrap(), None);
        assert!(file_in_tar(b"not a tar archive at all, just some bytes", "/help.1", 1024).is_err());
    }
}
