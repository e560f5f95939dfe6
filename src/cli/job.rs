//! The CLI's own job: found by its Caller (our unique bus name) as atomicd announces it, so the
//! CLI can show its progress, forward terminal resizes and cancel it on Ctrl-C.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use zbus::message::Type;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{MatchRule, MessageStream};

type Props = HashMap<String, OwnedValue>;

/// Follows this client's job while a call runs.
pub struct JobWatch {
    conn: zbus::Connection,
    path: Arc<Mutex<Option<OwnedObjectPath>>>,
    task: tokio::task::JoinHandle<()>,
}

fn prop_string(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(|v| String::try_from(v.clone()).ok())
}

impl JobWatch {
    /// Subscribes before the call is made, so the job's announcement cannot be missed.
    /// `progress` prints each new Message on stderr.
    pub async fn start(conn: &zbus::Connection, progress: bool) -> zbus::Result<JobWatch> {
        let me = conn.unique_name().map(|n| n.to_string()).unwrap_or_default();
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender("org.atomic")?
            .path_namespace("/org/atomic/Manager")?
            .build();
        let mut stream = MessageStream::for_match_rule(rule, conn, Some(64)).await?;
        let path: Arc<Mutex<Option<OwnedObjectPath>>> = Arc::new(Mutex::new(None));
        let mine = path.clone();
        let task = tokio::spawn(async move {
            let mut last = String::new();
            while let Some(Ok(msg)) = stream.next().await {
                let header = msg.header();
                match header.member().map(|m| m.as_str()) {
                    Some("InterfacesAdded") => {
                        let Ok((object, ifaces)) =
                            msg.body().deserialize::<(OwnedObjectPath, HashMap<String, Props>)>()
                        else {
                            continue;
                        };
                        if ifaces.get("org.atomic.Job").and_then(|p| prop_string(p, "Caller"))
                            == Some(me.clone())
                        {
                            if let Ok(mut p) = mine.lock() {
                                *p = Some(object);
                            }
                        }
                    }
                    Some("PropertiesChanged") => {
                        let ours = mine.lock().ok().and_then(|p| p.clone());
                        let here = header.path().map(|p| p.as_str().to_owned());
                        if !progress || ours.as_ref().map(|p| p.as_str().to_owned()) != here {
                            continue;
                        }
                        let Ok((_, changed, _)) = msg.body().deserialize::<(String, Props, Vec<String>)>()
                        else {
                            continue;
                        };
                        if let Some(message) = prop_string(&changed, "Message") {
                            if !message.is_empty() && message != last {
                                eprintln!("atomic: {message}");
                                last = message;
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(JobWatch { conn: conn.clone(), path, task })
    }

    fn path(&self) -> Option<OwnedObjectPath> {
        self.path.lock().ok().and_then(|p| p.clone())
    }

    async fn call(&self, method: &str, body: &(impl serde::Serialize + zbus::zvariant::DynamicType)) {
        let Some(path) = self.path() else { return };
        let _ = self
            .conn
            .call_method(Some("org.atomic"), path.as_str(), Some("org.atomic.Job"), method, body)
            .await;
    }

    /// Asks atomicd to resize our job's terminal.
    pub async fn resize(&self, rows: u16, columns: u16) {
        self.call("ResizeTty", &(rows, columns)).await;
    }

    /// Cancels our job.
    pub async fn cancel(&self) {
        self.call("Cancel", &()).await;
    }
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
