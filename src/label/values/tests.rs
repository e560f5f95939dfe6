//! The tests of `label/values`.

use super::*;

#[test]
fn names_never_read_as_paths() {
    for name in ["data", "a.b", "a_b-c", "9vol"] {
        assert!(is_object_name(name), "{name}");
    }
    for not in ["", ".", "..", "../x", "/x", "-x", "a/b", "a:b", "~", ".hidden"] {
        assert!(!is_object_name(not), "{not}");
    }
}

#[test]
fn volumes_read_one_way_only() {
    let host = |s: &str| VolumeSource::Host(s.into());
    let ok: &[(&str, VolumeSource, &str, &[&str])] = &[
        ("/anon", VolumeSource::Anonymous, "/anon", &[]),
        ("data:/d", VolumeSource::Named("data".into()), "/d", &[]),
        ("/:/host", host("/"), "/host", &[]),
        ("/etc:/etc:ro,Z", host("/etc"), "/etc", &["ro", "Z"]),
        (
            "vol1:/v:rw,rprivate,nosuid,nodev,rbind",
            VolumeSource::Named("vol1".into()),
            "/v",
            &["rw", "rprivate", "nosuid", "nodev", "rbind"],
        ),
    ];
    for (text, source, target, options) in ok {
        let v = Volume::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!((&v.source, v.target.as_str()), (source, *target), "{text}");
        assert_eq!(v.options, *options, "{text}");
        assert_eq!(v.to_string(), *text, "written back as given");
    }
    for bad in [
        "",
        "anon",
        ":/x",
        "../..:/host",
        ".:/x",
        "~/x:/x",
        "/x:ro",
        "/a:/b:/c:ro",
        "/a:b",
        "/a:/b:",
        "/a:/b:volume-opt=x",
    ] {
        assert!(Volume::parse(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn mounts_refuse_repeated_unknown_and_differently_cased_keys() {
    let m = Mount::parse("type=bind,src=/etc,dst=/e,ro").unwrap();
    assert_eq!(
        m,
        Mount { kind: MountKind::Bind, source: Some("/etc".into()), target: "/e".into(), read_only: true }
    );
    let t = Mount::parse("type=tmpfs,target=/t").unwrap();
    assert_eq!((t.kind, t.source), (MountKind::Tmpfs, None));
    let v = Mount::parse("target=/t").unwrap();
    assert_eq!(v.kind, MountKind::Volume);
    let table = [
        ("type=volume,source=x,type=bind,source=/,target=/host", "more than once"),
        ("src=x,source=/,target=/t", "more than once"),
        ("type=bind,src=/,dst=/a,destination=/b", "more than once"),
        ("Type=bind,src=/,dst=/h", "unsupported field"),
        ("type=bind,source=/,target=/h,volume-opt=o=bind", "unsupported field"),
        ("type=tmpfs,source=/etc,target=/t", "takes no source"),
        ("type=volume,source=/etc,target=/t", "not a volume name"),
        ("type=bind,src=rel,dst=/e", "not an absolute path"),
        ("type=bind,dst=/e", "needs a source"),
        ("type=nfs,dst=/x", "bind, volume or tmpfs"),
        ("src=/x", "target is required"),
        ("type=volume,target=rel", "not an absolute path"),
        ("target=/t,readonly=maybe", "readonly"),
        ("type", "needs a value"),
    ];
    for (text, needle) in table {
        match Mount::parse(text) {
            Err(why) => assert!(why.contains(needle), "{text}: {why}"),
            Ok(m) => panic!("{text} was accepted as {m:?}"),
        }
    }
}

#[test]
fn devices_ports_restarts_tmpfs_and_labels() {
    let d = Device::parse("/dev/a:/dev/b:r").unwrap();
    assert_eq!((d.container.as_str(), d.permissions.as_str()), ("/dev/b", "r"));
    assert_eq!(Device::parse("/dev/fuse:rw").map(|d| d.container), Ok("/dev/fuse".into()));
    for bad in ["a:b:c:d", "fuse", "/dev/a:/dev/b:x"] {
        assert!(Device::parse(bad).is_err(), "{bad}");
    }
    let p = Port::parse("127.0.0.1:53:53/udp").unwrap();
    assert_eq!((p.host_ip.as_deref(), p.host_port, p.key()), (Some("127.0.0.1"), Some(53), "53/udp".into()));
    assert_eq!(p.to_string(), "127.0.0.1:53:53/udp");
    for bad in ["99999:80", "80/icmp", "a:b", "1:2:3:4"] {
        assert!(Port::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Restart::parse("on-failure:3"), Ok(Restart::OnFailure(Some(3))));
    assert!(Restart::parse("sometimes").is_err() && Restart::parse("always:2").is_err());
    assert!(Tmpfs::parse("run").is_err());
    assert_eq!(EngineLabel::parse("a=b=c").map(|l| l.value), Ok("b=c".into()));
    assert!(EngineLabel::parse("=x").is_err());
}
