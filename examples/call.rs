//! A raw `org.atomic.Manager` call for tests and scripts, run as any user (e.g. under setpriv):
//! prints the result as JSON, or `ERROR <name>: <message>` and exits 1.
//!
//! Usage: `call [--interactive] METHOD [IMAGE] [--cmd WORD]... [--opt KEY=JSON]... [--opt-file KEY=FILE]...`
//! A JSON option value maps to its D-Bus type: true/false → b, "text" → s, 5 → u, an object of
//! strings → a{ss} (env-files). `--opt-file` reads the JSON from a file, for values larger than
//! one command-line argument may be.

use std::collections::HashMap;

use zbus::proxy::MethodFlags;
use zbus::zvariant::{DynamicType, OwnedValue, Value};

fn option_value(json: &str) -> Result<Value<'static>, String> {
    match serde_json::from_str::<serde_json::Value>(json).map_err(|e| format!("{json}: {e}"))? {
        serde_json::Value::Bool(b) => Ok(Value::Bool(b)),
        serde_json::Value::String(s) => Ok(Value::from(s)),
        serde_json::Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Value::U32)
            .ok_or_else(|| format!("{n}: only u32 numbers")),
        serde_json::Value::Object(map) => {
            let strings: Option<HashMap<String, String>> =
                map.into_iter().map(|(k, v)| v.as_str().map(|s| (k, s.to_owned()))).collect();
            strings.map(Value::from).ok_or_else(|| "only objects of strings".to_owned())
        }
        other => Err(format!("{other}: unsupported option value")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let interactive = args.next_if(|a| a == "--interactive").is_some();
    let Some(method) = args.next() else {
        eprintln!("usage: call [--interactive] METHOD [IMAGE] [--cmd WORD]... [--opt KEY=JSON]...");
        return std::process::ExitCode::from(2);
    };
    let mut image = None;
    let mut command: Vec<String> = Vec::new();
    let mut options: HashMap<String, Value<'static>> = HashMap::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cmd" => command.push(args.next().unwrap_or_default()),
            "--opt" | "--opt-file" => {
                let kv = args.next().unwrap_or_default();
                let (k, v) = kv.split_once('=').unwrap_or((&kv, "true"));
                let v = if a == "--opt-file" {
                    std::fs::read_to_string(v).unwrap_or_default()
                } else {
                    v.to_owned()
                };
                match option_value(&v) {
                    Ok(v) => drop(options.insert(k.to_owned(), v)),
                    Err(e) => {
                        eprintln!("{e}");
                        return std::process::ExitCode::from(2);
                    }
                }
            }
            _ => image = Some(a),
        }
    }
    let conn = match zbus::Connection::system().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR bus: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let image = image.unwrap_or_default();
    let reply = match method.as_str() {
        "Run" => call(&conn, &method, interactive, &(image, command, options)).await,
        "Install" | "Uninstall" | "Pull" | "Info" | "Stop" | "Update" | "HostDeploy" | "HostRebase"
        | "TrustAdd" => call(&conn, &method, interactive, &(image, options)).await,
        "HostUpgrade" | "Rollback" | "HostCleanup" => call(&conn, &method, interactive, &(options,)).await,
        "TrustRemove" | "TrustDefault" => call(&conn, &method, interactive, &(image,)).await,
        _ => call(&conn, &method, interactive, &()).await,
    };
    match reply {
        Ok(body) => {
            println!("{}", atomicd::dbus::proxy::dict_to_json(&body));
            std::process::ExitCode::SUCCESS
        }
        Err(zbus::Error::MethodError(name, text, _)) => {
            println!("ERROR {name}: {}", text.unwrap_or_default());
            std::process::ExitCode::from(1)
        }
        Err(e) => {
            println!("ERROR other: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn call<B>(
    conn: &zbus::Connection,
    method: &str,
    interactive: bool,
    body: &B,
) -> zbus::Result<HashMap<String, OwnedValue>>
where
    B: serde::Serialize + DynamicType,
{
    let proxy = zbus::Proxy::new(conn, "org.atomic", "/org/atomic/Manager", "org.atomic.Manager").await?;
    let flags = if interactive { MethodFlags::AllowInteractiveAuth.into() } else { Default::default() };
    Ok(proxy.call_with_flags(method, flags, body).await?.unwrap_or_default())
}
