//! A Run replies as soon as its container's process has ended and removes a `--rm` container
//! after the reply: the exit code stays exact (0, 3, 137 for a killed process), the output
//! complete, a Run of the same NAME waits for the last one's removal, and what a crash left to
//! remove is removed at the next start.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn exit_codes_and_output_are_exact_when_replying_at_the_process_end() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        // Each command in a container of its own: the default line keeps its container, and a
        // command for a kept one would be exec'd in it.
        let fresh = RunOptions { replace: Some(true), ..Default::default() };
        for (cmd, code) in [
            (words(&["true"]), 0),
            (words(&["sh", "-c", "echo out; echo err >&2; exit 3"]), 3),
            // A child killed by SIGKILL (PID 1 of the container cannot be, from inside).
            (words(&["sh", "-c", "sh -c 'kill -9 $$'; exit $?"]), 137),
        ] {
            let r = p.run(PLAIN, &cmd, &fresh).await.unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!(r.exit_code, Some(code), "{engine}: {cmd:?}");
            if code == 3 {
                let out = r.output.unwrap_or_default();
                assert!(out.contains("out\n") && out.contains("err\n"), "{engine}: output complete: {out:?}");
            }
            // Through the CLI: its fds are bridged, its exit status is the container's.
            let mut argv = vec!["run", "--quiet", "--replace", PLAIN];
            argv.extend(cmd.iter().map(String::as_str));
            let (c, out, err) = cli_as(0, &argv);
            assert_eq!(c, code, "{engine}: {cmd:?}: {err}");
            if code == 3 {
                assert_eq!(out, "out\n", "{engine}");
            }
        }
        // The container killed from outside: 137, as the engine's CLI says.
        let name = format!("killed{}", unique());
        let options = RunOptions { name: Some(name.clone()), ..Default::default() };
        let sleep = words(&["sleep", "30"]);
        let killer = async {
            let listed = || containers(engine).contains(&name);
            assert!(wait_until(Duration::from_secs(10), listed), "{engine}: never started");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = Command::new(engine).args(["kill", &name]).output();
        };
        let (r, ()) = tokio::join!(p.run(PLAIN, &sleep, &options), killer);
        assert_eq!(r.unwrap_or_else(|e| panic!("{engine}: {e}")).exit_code, Some(137), "{engine}: killed");
        // 1 MiB of output arrives whole before the reply.
        let big = words(&["sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo end"]);
        let mut argv = vec!["run", "--quiet", "--replace", PLAIN];
        argv.extend(big.iter().map(String::as_str));
        let (c, out, _) = cli_as(0, &argv);
        assert_eq!((c, out.len()), (0, 1_048_576 + 1 + 4), "{engine}");
        assert!(out.ends_with("\nend\n"));
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_run_of_the_same_name_waits_for_the_last_removal_and_nothing_is_left() {
    for (sock, engine) in ENGINES {
        let _d = Daemon::start(&["--engine-socket", sock]);
        let p = proxy().await;
        // atomic-test/hello: `docker run --rm --name NAME ...; exit 3`, back to back.
        for _ in 0..5 {
            let r = p.run("atomic-test/hello", &[], &RunOptions::default()).await;
            let r = r.unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!((r.exit_code, r.output.as_deref()), (Some(3), Some("hello from hello\n")), "{engine}");
        }
        let gone = wait_until(Duration::from_secs(5), || !containers(engine).contains(&"hello".to_owned()));
        assert!(gone, "{engine}: the last --rm container was never removed");
    }
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn a_start_removes_what_a_crash_left_to_remove_by_its_record_not_by_labels() {
    for (sock, engine) in ENGINES {
        let left = format!("left{}", unique());
        let kept = format!("kept{}", unique());
        let forged = format!("forged{}", unique());
        // Exited containers, each labelled as atomicd labels a waited --rm container.
        let labels = ["org.atomic.managed=1", "org.atomic.remove=1", "org.atomic.operation=Run"];
        let mut ids = Vec::new();
        for name in [&left, &kept, &forged] {
            let mut args = vec!["run".to_owned(), "--name".to_owned(), name.clone()];
            for l in labels {
                args.extend(["--label".to_owned(), l.to_owned()]);
            }
            args.extend([PLAIN.to_owned(), "true".to_owned()]);
            let out = Command::new(engine).args(&args).output().unwrap();
            assert!(out.status.success(), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
            let id = Command::new(engine).args(["inspect", "--format", "{{.Id}}", name]).output();
            ids.push(id.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default());
        }
        // What a crashed atomicd's record says: `left` was still to be removed, `kept` is a kept
        // container of atomicd's; `forged` it never made, whatever its labels say.
        let state = std::env::temp_dir().join(format!("atomicd-sweep-{}", unique())).join("state");
        std::fs::create_dir_all(&state).unwrap();
        let record = |name: &str, remove: bool| {
            serde_json::json!({"image": PLAIN, "image_id": "", "name": name, "operation": "Run",
                "caller_uid": 0, "privileged": false, "remove": remove})
        };
        let records = serde_json::json!({ &ids[0]: record(&left, true), &ids[1]: record(&kept, false) });
        std::fs::write(state.join("containers.json"), records.to_string()).unwrap();
        let _d = Daemon::start_on(&state, &["--engine-socket", sock]);
        let swept = wait_until(Duration::from_secs(10), || !containers(engine).contains(&left));
        assert!(swept, "{engine}: the exited --rm container was not swept");
        let now = containers(engine);
        assert!(now.contains(&kept), "{engine}: a container to keep was removed");
        assert!(now.contains(&forged), "{engine}: a container atomicd never made was swept for its labels");
        let _ = Command::new(engine).args(["rm", "-f", &kept, &forged]).output();
    }
}
