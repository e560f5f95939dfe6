//! What signature verification adds to a Run: the verdict for a signed image decided cold (a new
//! verifier: the lookaside is read over HTTP and the GPG signature checked) and from the cache,
//! against the test world's policy and lookaside (tests/world.sh). Prints figures and their ratio
//! to the targets (20 ms cold on loopback, 1 ms cached).
//!
//! Usage: trust_bench [SAMPLES]

use std::sync::Arc;
use std::time::{Duration, Instant};

use atomicd::trust::fetch::HttpSource;
use atomicd::trust::{Require, Settings, State, Verifier};

const TRUST: &str = "/var/tmp/atomicd-world/trust";
const IMAGE: &str = "127.0.0.1:5000/atomic-test/signed:latest";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn repo_digests() -> Vec<String> {
    let out = std::process::Command::new("podman")
        .args(["image", "inspect", "--format", "{{json .RepoDigests}}", IMAGE])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    serde_json::from_slice(&out).unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let samples: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(25);
    let settings = Settings {
        policy: format!("{TRUST}/policy.json").into(),
        registries_d: format!("{TRUST}/registries.d").into(),
        require: Require::Host,
    };
    let digests = repo_digests();
    let source = Arc::new(HttpSource::new());
    let mut cold = Vec::new();
    for _ in 0..samples {
        let verifier = Verifier::new(settings.clone(), source.clone());
        let t = Instant::now();
        let verdict = verifier.verify(IMAGE, &digests).await;
        cold.push(t.elapsed());
        if verdict.state != State::Signed {
            eprintln!("trust_bench: {IMAGE} is not signed here ({}); run tests/world.sh up", verdict.reason);
            std::process::exit(1);
        }
    }
    let verifier = Verifier::new(settings, source);
    let _ = verifier.verify(IMAGE, &digests).await;
    let mut cached = Vec::new();
    for _ in 0..samples * 20 {
        let t = Instant::now();
        let _ = verifier.verify(IMAGE, &digests).await;
        cached.push(t.elapsed());
    }
    let (cold, cached) = (median(cold), median(cached));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("  verification of a signed image's Run, cold (lookaside over loopback HTTP, GPG check): {:.2} ms (target 20 ms: {:.2}x)", ms(cold), ms(cold) / 20.0);
    println!("  verification of a signed image's Run, cached (policy and keys re-read and hashed): {:.3} ms (target 1 ms: {:.2}x)", ms(cached), ms(cached) / 1.0);
}
