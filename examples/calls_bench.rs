//! atomicd's own time in the open read methods, for bench/: `calls_bench SOCKET N`.
//!
//! Each sample pairs one call over a warm bus connection with the same engine request made
//! directly (bollard, as atomicd makes it) right after it, so the engine's own jitter (podman's
//! image list varies by ±50 ms) cancels out. Prints `name call_p50_us engine_p50_us own_p50_us`
//! for ListImages, ListContainers (all) and Info of atomic-test/app, where own = call − engine
//! − the bus floor (Peer.Ping on org.atomic, answered by zbus alone), and `ping p50_us`.

use std::future::Future;
use std::time::Instant;

use atomicd::dbus::proxy::{InfoOptions, ListOptions, ManagerProxy};
use bollard::query_parameters::{ListContainersOptions, ListImagesOptions};

fn median(mut v: Vec<i128>) -> i128 {
    v.sort_unstable();
    v[v.len() / 2]
}

async fn elapsed<T, E>(f: impl Future<Output = Result<T, E>>) -> Result<i128, E> {
    let t = Instant::now();
    f.await?;
    Ok(i128::try_from(t.elapsed().as_micros()).unwrap_or(i128::MAX))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let socket = args.next().ok_or("usage: calls_bench SOCKET N")?;
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50).max(1);
    let conn = zbus::Connection::system().await?;
    let proxy = ManagerProxy::new(&conn).await?;
    let peer = zbus::fdo::PeerProxy::builder(&conn)
        .destination("org.atomic")?
        .path("/org/atomic/Manager")?
        .build()
        .await?;
    let engine = bollard::Docker::connect_with_unix(&socket, 60, bollard::API_DEFAULT_VERSION)?;
    let (local, all, info) =
        (ListOptions::default(), ListOptions { all: Some(true) }, InfoOptions::default());
    let every = || Some(ListContainersOptions { all: true, ..Default::default() });

    let mut ping = Vec::new();
    for _ in 0..=calls {
        ping.push(elapsed(peer.ping()).await?);
    }
    let ping = median(ping);
    println!("ping {ping}");
    for name in ["images", "containers", "info"] {
        let (mut call, mut direct, mut own) = (Vec::new(), Vec::new(), Vec::new());
        // The first round warms what a page polling the method would also have warm.
        for round in 0..=calls {
            let c = match name {
                "images" => elapsed(proxy.list_images(&local)).await?,
                "containers" => elapsed(proxy.list_containers(&all)).await?,
                _ => elapsed(proxy.info("atomic-test/app", &info)).await?,
            };
            let d = match name {
                "images" => elapsed(engine.list_images(None::<ListImagesOptions>)).await?,
                "containers" => elapsed(engine.list_containers(every())).await?,
                // Info asks both at once; the slower one is its engine time.
                _ => {
                    let t = Instant::now();
                    let (a, b) = tokio::join!(
                        engine.inspect_image("atomic-test/app"),
                        engine.list_containers(every())
                    );
                    a?;
                    b?;
                    i128::try_from(t.elapsed().as_micros()).unwrap_or(i128::MAX)
                }
            };
            if round > 0 {
                call.push(c);
                direct.push(d);
                own.push(c - d - ping);
            }
        }
        println!("{name} {} {} {}", median(call), median(direct), median(own));
    }
    Ok(())
}
