//! The bus as the tests see it: a proxy that sends any dictionary as it is, the error of a
//! call (and a call of any method with any body), the ObjectManager and introspection, the jobs, and a podman service of a test's own.

use super::*;

/// `org.atomic.Manager` as a hostile or careless client sees it: any dictionary goes out as
/// it is, and answers come back as dictionaries.
#[zbus::proxy(
    interface = "org.atomic.Manager",
    default_service = "org.atomic",
    default_path = "/org/atomic/Manager",
    gen_blocking = false
)]
pub trait RawManager {
    #[zbus(allow_interactive_auth)]
    fn run(
        &self,
        image: &str,
        command: &[String],
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn install(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn uninstall(
        &self,
        image: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn host_upgrade(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(allow_interactive_auth)]
    fn rollback(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<HashMap<String, OwnedValue>>;
}

/// The raw proxy, for dictionaries the typed options cannot express.
#[allow(dead_code)]
pub async fn raw_proxy() -> RawManagerProxy<'static> {
    let conn = zbus::Connection::system().await.unwrap_or_else(|e| panic!("system bus: {e}"));
    RawManagerProxy::new(&conn).await.unwrap_or_else(|e| panic!("proxy: {e}"))
}

/// A root connection's proxy to org.atomic.
pub async fn proxy() -> ManagerProxy<'static> {
    let conn = zbus::Connection::system().await.unwrap_or_else(|e| panic!("system bus: {e}"));
    ManagerProxy::new(&conn).await.unwrap_or_else(|e| panic!("proxy: {e}"))
}

/// The D-Bus error name of a failed call.
/// Calls `method` of org.atomic.Manager with `body` as it is, whatever its signature.
pub async fn call_manager(
    conn: &zbus::Connection,
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> zbus::Result<zbus::Message> {
    conn.call_method(Some("org.atomic"), "/org/atomic/Manager", Some("org.atomic.Manager"), method, body)
        .await
}

pub fn error_name<T: std::fmt::Debug>(r: &zbus::Result<T>) -> String {
    match r {
        Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

/// The sentence of a failed call.
pub fn error_text<T: std::fmt::Debug>(r: &zbus::Result<T>) -> String {
    match r {
        Err(zbus::Error::MethodError(_, text, _)) => text.clone().unwrap_or_default(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

/// The ObjectManager of /org/atomic/Manager on `conn`.
pub async fn object_manager(conn: &zbus::Connection) -> zbus::fdo::ObjectManagerProxy<'static> {
    zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination("org.atomic")
        .and_then(|b| b.path("/org/atomic/Manager"))
        .unwrap()
        .build()
        .await
        .unwrap()
}

/// The introspection XML of `path` on org.atomic.
pub async fn introspect(conn: &zbus::Connection, path: &str) -> String {
    zbus::fdo::IntrospectableProxy::builder(conn)
        .destination("org.atomic")
        .and_then(|b| b.path(path.to_owned()))
        .unwrap()
        .build()
        .await
        .unwrap()
        .introspect()
        .await
        .unwrap()
}

/// A podman API service of the test's own on `sock`, to be stopped or killed; returns once it
/// answers a ping.
pub fn private_podman(sock: &str) -> Child {
    let _ = std::fs::remove_file(sock);
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{sock}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("podman service: {e}"));
    assert!(
        wait_until(Duration::from_secs(30), || {
            Command::new("curl")
                .args(["-sf", "--unix-socket", sock, "http://e/_ping"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }),
        "private podman service did not answer"
    );
    child
}

const JOBS_PREFIX: &str = "/org/atomic/Manager/jobs/";

/// Waits (without limit: race it against the call) for a job whose Progress and Message
/// satisfy `wanted`; returns its path, Progress and Message.
pub async fn job_where(
    conn: &zbus::Connection,
    wanted: impl Fn(f64, &str) -> bool,
) -> (zbus::zvariant::OwnedObjectPath, f64, String) {
    let om = object_manager(conn).await;
    loop {
        for (path, ifaces) in om.get_managed_objects().await.unwrap_or_default() {
            let Some(job) = ifaces.get("org.atomic.Job").filter(|_| path.as_str().starts_with(JOBS_PREFIX))
            else {
                continue;
            };
            let progress = job.get("Progress").and_then(|v| f64::try_from(v.clone()).ok()).unwrap_or(-1.0);
            let message =
                job.get("Message").and_then(|v| String::try_from(v.clone()).ok()).unwrap_or_default();
            if wanted(progress, &message) {
                return (path, progress, message);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first job exported within ten seconds.
pub async fn find_job(conn: &zbus::Connection) -> Option<zbus::zvariant::OwnedObjectPath> {
    tokio::time::timeout(Duration::from_secs(10), job_where(conn, |_, _| true)).await.ok().map(|j| j.0)
}

/// Whether every job is unexported within `limit`.
pub async fn no_jobs_left_within(conn: &zbus::Connection, limit: Duration) -> bool {
    let om = object_manager(conn).await;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let objects = om.get_managed_objects().await.unwrap_or_default();
        if !objects.keys().any(|k| k.as_str().starts_with(JOBS_PREFIX)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Calls Cancel on `job` as `conn`'s owner.
pub async fn cancel_job(conn: &zbus::Connection, job: &zbus::zvariant::OwnedObjectPath) {
    conn.call_method(Some("org.atomic"), job.as_str(), Some("org.atomic.Job"), "Cancel", &())
        .await
        .unwrap_or_else(|e| panic!("Cancel: {e}"));
}
