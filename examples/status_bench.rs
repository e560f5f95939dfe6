//! Status round trips for bench/: `status_bench CLIENTS CALLS_EACH` prints p50 and p99 in µs.

use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let conn = zbus::Connection::system().await?;
            let proxy = atomicd::dbus::proxy::ManagerProxy::new(&conn).await?;
            proxy.status().await?; // warm the connection
            let mut samples = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                proxy.status().await?;
                samples.push(t.elapsed().as_micros());
            }
            Ok::<_, zbus::Error>(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize];
    println!("{} {}", at(0.5), at(0.99));
    Ok(())
}
