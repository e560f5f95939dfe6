//! The system files: each is checked the way the system that reads it would.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// name, type, direction (or access)
type Arg = (String, String, String);

/// An interface's methods, properties and signals, sorted, for comparison.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    methods: Vec<(String, Vec<Arg>)>,
    properties: Vec<Arg>,
    signals: Vec<String>,
}

fn shape(xml: &str) -> Shape {
    shape_of(xml, "org.atomic.Manager")
}

/// The shape of `interface` in an introspection document.
pub fn shape_of(xml: &str, interface: &str) -> Shape {
    let node = zbus_xml::Node::from_reader(xml.as_bytes()).unwrap();
    let iface = node
        .interfaces()
        .iter()
        .find(|i| i.name() == interface)
        .unwrap_or_else(|| panic!("no {interface} in {xml}"));
    let mut methods: Vec<_> = iface
        .methods()
        .iter()
        .map(|m| {
            let args = m
                .args()
                .iter()
                .map(|a| {
                    (a.name().unwrap_or("").to_owned(), a.ty().to_string(), format!("{:?}", a.direction()))
                })
                .collect();
            (m.name().to_string(), args)
        })
        .collect();
    methods.sort();
    let mut properties: Vec<_> = iface
        .properties()
        .iter()
        .map(|p| (p.name().to_string(), p.ty().to_string(), format!("{:?}", p.access())))
        .collect();
    properties.sort();
    let mut signals: Vec<_> = iface.signals().iter().map(|s| s.name().to_string()).collect();
    signals.sort();
    Shape { methods, properties, signals }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn introspection_xml_matches_the_running_daemon() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let conn = zbus::Connection::system().await.unwrap();
    let live = introspect(&conn, "/org/atomic/Manager").await;
    let file = shape(&read("dbus/org.atomic.Manager.xml"));
    assert_eq!(shape(&live), file);
    // The methods themselves are the XML's to list; tests/lists.rs holds the page and docs to it.
    assert!(file.methods.len() >= 20, "{:?}", file.methods);
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn polkitd_knows_the_installed_actions() {
    require_world();
    let out = Command::new("pkaction")
        .arg("--action-id")
        .arg("org.atomic.run-privileged")
        .arg("--verbose")
        .output();
    let out = out.unwrap_or_else(|e| panic!("pkaction: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("implicit active:   auth_admin"), "{text}");
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn bus_policy_lets_only_root_own_the_name() {
    let text = read("dbus/org.atomic.conf");
    let doc = parse_xml(&text);
    let owners: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("allow") && n.attribute("own") == Some("org.atomic"))
        .map(|n| n.parent().and_then(|p| p.attribute("user")))
        .collect();
    assert_eq!(owners, [Some("root")], "only root may own org.atomic");
    require_world();
    // A real attempt by nobody to own org.atomic is refused by dbus-daemon.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "busctl", "--system", "call"])
        .args([
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "RequestName",
            "su",
            "org.atomic",
            "4",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Access denied"), "{out:?}");
}

fn make_install(vars: &[String]) -> PathBuf {
    // What `make build` does after cargo: the completions and the man page from the CLI itself.
    let generated = Path::new(env!("CARGO_BIN_EXE_atomic")).with_file_name("generated");
    let wrote = Command::new(env!("CARGO_BIN_EXE_atomic")).arg("generate-files").arg(&generated).status();
    assert!(wrote.is_ok_and(|s| s.success()), "atomic generate-files");
    let out = Command::new("make")
        .arg("-C")
        .arg(root())
        .arg("install")
        .arg("PROFILE=dev")
        .arg(format!(
            "TARGET_DIR={}",
            Path::new(env!("CARGO_BIN_EXE_atomicd"))
                .parent()
                .and_then(Path::parent)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))
        .args(vars)
        .output()
        .unwrap_or_else(|e| panic!("make: {e}"));
    assert!(out.status.success(), "make install: {}", String::from_utf8_lossy(&out.stderr));
    root()
}

#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn make_install_lays_out_a_package_and_the_unit_verifies() {
    let dest = std::env::temp_dir().join(format!("atomicd-destdir-{}", unique()));
    make_install(&[format!("DESTDIR={}", dest.display()), "PREFIX=/usr".into()]);
    for f in [
        "usr/libexec/atomicd",
        "usr/libexec/atomicd-ostree",
        "usr/bin/atomic",
        "usr/share/dbus-1/system.d/org.atomic.conf",
        "usr/share/dbus-1/system-services/org.atomic.service",
        "usr/share/dbus-1/interfaces/org.atomic.Manager.xml",
        "usr/share/polkit-1/actions/org.atomic.policy",
        "usr/lib/systemd/system/atomicd.service",
        "usr/lib/systemd/catalog/atomicd.catalog",
        "usr/share/bash-completion/completions/atomic",
        "usr/share/zsh/vendor-completions/_atomic",
        "usr/share/fish/vendor_completions.d/atomic.fish",
        "usr/share/man/man1/atomic.1",
        "usr/share/cockpit/atomic/manifest.json",
        "usr/share/cockpit/atomic/index.html",
        "usr/share/cockpit/atomic/index.js",
        "usr/share/cockpit/atomic/patternfly/patternfly.min.css",
    ] {
        assert!(dest.join(f).is_file(), "{f} not installed");
    }
    // Cockpit shows the page where atomicd's activation file is, wherever PREFIX put it.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dest.join("usr/share/cockpit/atomic/manifest.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("manifest.json: {e}"));
    assert_eq!(
        manifest["conditions"][0]["path-exists"], "/usr/share/dbus-1/system-services/org.atomic.service",
        "{manifest}"
    );
    assert!(manifest["menu"]["index"]["label"].is_string(), "{manifest}");
    let man = std::fs::read_to_string(dest.join("usr/share/man/man1/atomic.1")).unwrap_or_default();
    assert!(man.starts_with(".ie") || man.contains(".TH atomic"), "not a man page: {man:.80}");
    let activation =
        std::fs::read_to_string(dest.join("usr/share/dbus-1/system-services/org.atomic.service"))
            .unwrap_or_default();
    for line in
        ["Name=org.atomic", "Exec=/usr/libexec/atomicd", "User=root", "SystemdService=atomicd.service"]
    {
        assert!(activation.lines().any(|l| l == line), "{line} missing from activation file");
    }

    // With a PREFIX that exists on this machine, systemd-analyze can check the unit for real.
    let prefix = std::env::temp_dir().join(format!("atomicd-prefix-{}", unique()));
    make_install(&[format!("PREFIX={}", prefix.display())]);
    let unit = prefix.join("lib/systemd/system/atomicd.service");
    let text = std::fs::read_to_string(&unit).unwrap_or_default();
    assert!(text.contains(&format!("ExecStart={}/libexec/atomicd", prefix.display())), "{text}");
    for line in ["Type=notify", "BusName=org.atomic", "StateDirectory=atomic"] {
        assert!(text.lines().any(|l| l == line), "{line} missing from the unit");
    }
    let out = Command::new("systemd-analyze").arg("verify").arg(&unit).output().unwrap();
    assert!(out.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&out.stderr));
    // The sandboxing stays where it was measured (4.1 "OK"); a dropped directive shows here.
    let out =
        Command::new("systemd-analyze").args(["security", "--offline=true"]).arg(&unit).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| l.split("atomicd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(exposure <= 4.5, "exposure {exposure} > 4.5");
    let _ = std::fs::remove_dir_all(&dest);
    let _ = std::fs::remove_dir_all(&prefix);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
async fn a_running_job_matches_the_job_interface_of_the_xml() {
    let _d = Daemon::start(&["--engine-socket", PODMAN_SOCK]);
    let p = proxy().await;
    let conn = p.inner().connection().clone();
    let sleeper = tokio::spawn(async move {
        let p = atomicd::dbus::proxy::ManagerProxy::new(&conn).await.unwrap();
        p.run(PLAIN, &["sleep".to_owned(), "3".to_owned()], &Default::default()).await
    });
    let conn = zbus::Connection::system().await.unwrap();
    let om = object_manager(&conn).await;
    let mut path = None;
    for _ in 0..50 {
        let objects = om.get_managed_objects().await.unwrap_or_default();
        path = objects.keys().find(|k| k.as_str().starts_with("/org/atomic/Manager/jobs/")).cloned();
        if path.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let path = path.unwrap_or_else(|| panic!("no job exported while Run was running"));
    let live = introspect(&conn, path.as_str()).await;
    assert_eq!(
        shape_of(&live, "org.atomic.Job"),
        shape_of(&read("dbus/org.atomic.Manager.xml"), "org.atomic.Job")
    );
    let done = sleeper.await.unwrap().unwrap();
    assert_eq!(done.exit_code, Some(0));
    // The job is unexported as its call ends (InterfacesRemoved follows the reply closely).
    let mut gone = false;
    for _ in 0..40 {
        if !om.get_managed_objects().await.unwrap_or_default().contains_key(&path) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the job stayed exported 2 s after the call ended");
}

/// libostree and its libraries stay out of the daemon (they live in atomicd-ostree).
#[test]
fn the_daemon_does_not_link_libostree_and_its_helper_does() {
    let libs = |binary: &str| {
        let out = Command::new("ldd").arg(bin(binary)).output().unwrap_or_else(|e| panic!("ldd: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let daemon = libs("atomicd");
    assert!(!daemon.contains("libostree") && !daemon.contains("libglib"), "{daemon}");
    assert!(libs("atomicd-ostree").contains("libostree-1"));
}

/// docs/API.md documents every method of the introspection XML (which a live test holds to the
/// running daemon), every Job property and every error name the code can send.
#[test]
fn the_docs_name_every_method_property_and_error_of_the_xml() {
    let docs = read("docs/API.md");
    let xml = read("dbus/org.atomic.Manager.xml");
    let doc = parse_xml(&xml);
    for iface in doc.descendants().filter(|n| n.has_tag_name("interface")) {
        let iface_name = iface.attribute("name").unwrap_or_default();
        for m in iface.children().filter(|n| n.has_tag_name("method")) {
            let name = m.attribute("name").unwrap_or_default();
            let heading = format!("### {name}(");
            let named = if iface_name == "org.atomic.Manager" {
                docs.contains(&heading)
            } else {
                docs.contains(&format!("`{name}("))
            };
            assert!(named, "docs/API.md does not document {iface_name}.{name}");
        }
        for p in iface.children().filter(|n| n.has_tag_name("property")) {
            let name = p.attribute("name").unwrap_or_default();
            assert!(docs.contains(&format!("`{name}`")), "docs/API.md does not document property {name}");
        }
    }
    // Error names: tests/lists.rs, from src/error.rs.
}

/// `make deb` (dpkg-buildpackage with debhelper): the package holds what `make install` lays
/// out, with the unit where Debian 12's systemd looks and the library dependencies
/// dpkg-shlibdeps found; dpkg installs it into a scratch root (its scripts honour $DPKG_ROOT, so
/// the running system is untouched) and purges it, records included. Its life under a real
/// systemd is tests/systemd/run.sh's.
#[test]
#[ignore = "needs the test world (tests/world.sh up, as root); tests/run.sh runs it"]
fn make_deb_builds_a_package_that_installs_and_purges() {
    let generated = Path::new(env!("CARGO_BIN_EXE_atomic")).with_file_name("generated");
    let wrote = Command::new(env!("CARGO_BIN_EXE_atomic")).arg("generate-files").arg(&generated).status();
    assert!(wrote.is_ok_and(|s| s.success()), "atomic generate-files");
    let target = Path::new(env!("CARGO_BIN_EXE_atomicd"))
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("target"));
    let out = Command::new("make")
        .arg("-C")
        .arg(root())
        .args(["deb", "PROFILE=dev", "DEBFLAGS=-Znone"])
        .arg(format!("TARGET_DIR={}", target.display()))
        .output()
        .unwrap_or_else(|e| panic!("make: {e}"));
    assert!(out.status.success(), "make deb: {}", String::from_utf8_lossy(&out.stderr));
    let deb = std::fs::read_dir(target)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb") && p.to_string_lossy().contains("atomicd_"))
        .unwrap_or_else(|| panic!("no .deb in {}", target.display()));
    // Lintian-clean: no error and no warning, but for the compression this dev build turns off
    // (-Znone, for speed) and the overrides debian/atomicd.lintian-overrides gives reasons for.
    let cockpit_deb = deb.with_file_name(format!("cockpit-atomic_{}_all.deb", env!("CARGO_PKG_VERSION")));
    let lint = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--suppress-tags"])
        .arg("uses-no-compression-for-control-tarball,uses-no-compression-for-data-tarball")
        .arg(&deb)
        .arg(&cockpit_deb)
        .output()
        .expect("lintian (tests/setup.sh installs it)");
    let said = String::from_utf8_lossy(&lint.stdout);
    assert!(lint.status.success() && !said.contains("W: ") && !said.contains("E: "), "lintian:\n{said}");
    let info = Command::new("dpkg-deb").arg("-f").arg(&deb).output().unwrap();
    let control = String::from_utf8_lossy(&info.stdout);
    for field in ["Package: atomicd", "Architecture: ", "dbus (>= 1.12)", "polkitd", "libostree-1-1 (>= "] {
        assert!(control.contains(field), "{field} missing from the control file:\n{control}");
    }
    // debian/changelog names the package's version; it must be the crate's.
    let version = format!("Version: {}\n", env!("CARGO_PKG_VERSION"));
    assert!(control.contains(&version), "debian/changelog and Cargo.toml disagree:\n{control}");
    let scratch = std::env::temp_dir().join(format!("atomicd-dpkg-{}", unique()));
    let admin = scratch.join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::write(admin.join("status"), "").unwrap();
    let dpkg = |args: &[&str]| {
        let out = Command::new("dpkg")
            .arg(format!("--instdir={}", scratch.display()))
            .arg(format!("--admindir={}", admin.display()))
            .args(["--force-script-chrootless", "--force-depends"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("dpkg: {e}"));
        assert!(out.status.success(), "dpkg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    dpkg(&["-i", &deb.display().to_string()]);
    for f in [
        "usr/libexec/atomicd",
        "usr/libexec/atomicd-ostree",
        "usr/bin/atomic",
        "lib/systemd/system/atomicd.service",
        "usr/lib/systemd/catalog/atomicd.catalog",
        "usr/share/dbus-1/system-services/org.atomic.service",
        "usr/share/polkit-1/actions/org.atomic.policy",
    ] {
        assert!(scratch.join(f).is_file(), "{f} not installed by the package");
    }
    let unit =
        std::fs::read_to_string(scratch.join("lib/systemd/system/atomicd.service")).unwrap_or_default();
    assert!(unit.contains("ExecStart=/usr/libexec/atomicd"), "{unit}");
    std::fs::create_dir_all(scratch.join("var/lib/atomic")).unwrap();
    std::fs::write(scratch.join("var/lib/atomic/installed.json"), "{}").unwrap();
    dpkg(&["--purge", "atomicd"]);
    assert!(!scratch.join("usr/libexec/atomicd").exists(), "purge left the daemon");
    assert!(!scratch.join("var/lib/atomic").exists(), "purge left the records");
    let _ = std::fs::remove_dir_all(&scratch);
}
