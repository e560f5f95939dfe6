//! bollard's errors and streams sorted into atomicd's kinds: the engine is down, it refused,
//! or podman's passing `stopped` state, read past.

use super::*;

/// A container's or an exec's attach stream as [`Chunk`]s, its errors sorted like every other.
pub(super) fn chunks(
    output: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<LogOutput, BollardError>> + Send>>,
    socket: String,
    what: &'static str,
) -> std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Chunk>> + Send>> {
    Box::pin(output.map(move |item| match item {
        Ok(LogOutput::StdErr { message }) => Ok(Chunk::Stderr(message.to_vec())),
        Ok(LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message }) => {
            Ok(Chunk::Stdout(message.to_vec()))
        }
        Err(e) => Err(classify(&socket, what, e)),
    }))
}

/// Whether bollard could not read an answer only because it names podman's `stopped` state,
/// which podman reports from a container's exit until its cleanup has run (a few hundred ms);
/// bollard's models list every state but that one.
pub(super) fn podman_stopped(e: &BollardError) -> bool {
    matches!(e, BollardError::JsonDataError { message, .. } if message.contains("`stopped`"))
}

/// Whether podman answered 500 "does not exist in database" of a container it had just found by
/// name: one removed between the two steps (a unit's restart replacing it). Asked again, the
/// name names the new container or none.
pub(super) fn podman_removed_midway(e: &BollardError) -> bool {
    matches!(e, BollardError::DockerResponseServerError { status_code: 500, message }
        if message.contains("does not exist in database"))
}

/// Runs `call` again while its answer names podman's `stopped` state or a container removed
/// midway (at most ~2 s), so a list or inspect made right after a container's exit or removal
/// reads its settled state.
pub(super) async fn past_stopped<T, F, Fut>(mut call: F) -> std::result::Result<T, BollardError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, BollardError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if (podman_stopped(&e) || podman_removed_midway(&e)) && tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// The engine could not be reached at all.
pub(super) fn unavailable(socket: &str, e: &BollardError) -> Error {
    Error::EngineUnavailable(format!("the container engine at {socket} does not answer: {e}"))
}

/// Sorts a bollard error into the documented kinds; `what` says what was being done.
pub(super) fn classify(socket: &str, what: &str, e: BollardError) -> Error {
    match e {
        BollardError::DockerResponseServerError { status_code, message } => {
            Error::EngineError(format!("{what}: the engine refused ({status_code}): {}", dbus_safe(&message)))
        }
        BollardError::SocketNotFoundError(_)
        | BollardError::HyperResponseError { .. }
        | BollardError::HttpClientError { .. }
        | BollardError::IOError { .. }
        | BollardError::RequestTimeoutError => unavailable(socket, &e),
        // The engine's socket refused the connection: nothing is listening any more.
        BollardError::HyperLegacyError { ref err } if err.is_connect() => unavailable(socket, &e),
        other => Error::EngineError(format!("{what}: {}", dbus_safe(&other.to_string()))),
    }
}
