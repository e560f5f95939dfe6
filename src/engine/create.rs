//! The Docker API create body for a [`RunSpec`], and the way back from a container's host
//! configuration to the flags that ask for it: pure, so every mapping is unit-tested.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, HostConfigLogConfig, Mount, MountType, PortBinding,
    PortMap, RestartPolicy, RestartPolicyNameEnum,
};

use super::CreateRequest;
use crate::label::{MountKind, Restart, VolumeSource};

fn some_vec(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Builds the create request from the parsed line: every structured value (volumes, mounts,
/// devices, ports, restart policy, tmpfs, labels) is the one the privilege judge read, written
/// into the API's own types, never parsed again here. `streams` says what the caller attached,
/// so `-i` without a client keeps no stdin open and `-t` without a terminal allocates none.
pub(crate) fn create_body(request: CreateRequest<'_>) -> ContainerCreateBody {
    let CreateRequest { spec, image_id, owner, streams } = request;
    let binds: Vec<String> = spec.volumes.iter().filter_map(|v| v.bind()).collect();
    let anonymous: Vec<String> = spec
        .volumes
        .iter()
        .filter(|v| v.source == VolumeSource::Anonymous)
        .map(|v| v.target.clone())
        .collect();
    let mounts: Vec<Mount> = spec
        .mounts
        .iter()
        .map(|m| Mount {
            typ: Some(match m.kind {
                MountKind::Bind => MountType::BIND,
                MountKind::Volume => MountType::VOLUME,
                MountKind::Tmpfs => MountType::TMPFS,
            }),
            source: m.source.clone(),
            target: Some(m.target.clone()),
            read_only: m.read_only.then_some(true),
            ..Mount::default()
        })
        .collect();
    let devices: Vec<DeviceMapping> = spec
        .devices
        .iter()
        .map(|d| DeviceMapping {
            path_on_host: Some(d.host.clone()),
            path_in_container: Some(d.container.clone()),
            cgroup_permissions: Some(d.permissions.clone()),
        })
        .collect();
    let mut exposed = Vec::new();
    let mut port_bindings = PortMap::new();
    for port in &spec.publish {
        exposed.push(port.key());
        let binding =
            PortBinding { host_ip: port.host_ip.clone(), host_port: port.host_port.map(|p| p.to_string()) };
        port_bindings
            .entry(port.key())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    // The line's labels first: atomicd's own, written last, always win.
    let mut labels: HashMap<String, String> =
        spec.labels.iter().map(|l| (l.key.clone(), l.value.clone())).collect();
    labels.extend(owner.to_labels());
    let tmpfs: HashMap<String, String> =
        spec.tmpfs.iter().map(|t| (t.target.clone(), t.options.clone())).collect();
    let restart_policy = spec.restart.map(|r| {
        let (name, count) = match r {
            Restart::No => (RestartPolicyNameEnum::NO, None),
            Restart::Always => (RestartPolicyNameEnum::ALWAYS, None),
            Restart::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            Restart::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, n),
        };
        RestartPolicy { name: Some(name), maximum_retry_count: count }
    });

    let host_config = HostConfig {
        binds: some_vec(&binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        privileged: spec.privileged.then_some(true),
        network_mode: spec.network.clone(),
        pid_mode: spec.pid.clone(),
        ipc_mode: spec.ipc.clone(),
        uts_mode: spec.uts.clone(),
        userns_mode: spec.userns.clone(),
        cap_add: some_vec(&spec.cap_add),
        cap_drop: some_vec(&spec.cap_drop),
        security_opt: some_vec(&spec.security_opt),
        devices: (!devices.is_empty()).then_some(devices),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        restart_policy,
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        readonly_rootfs: spec.read_only.then_some(true),
        init: spec.init.then_some(true),
        log_config: spec
            .log_driver
            .as_ref()
            .map(|d| HostConfigLogConfig { typ: Some(d.clone()), config: None }),
        group_add: some_vec(&spec.group_add),
        // A detached `--rm` container must clean itself up; a waited one is removed by atomicd
        // after its output has been read.
        auto_remove: (spec.remove && spec.detach).then_some(true),
        ..HostConfig::default()
    };

    let stdin = spec.interactive && streams.stdin;
    ContainerCreateBody {
        image: Some(image_id.to_owned()),
        cmd: some_vec(&spec.command),
        entrypoint: spec.entrypoint.as_ref().map(|e| vec![e.clone()]),
        env: some_vec(&spec.env),
        labels: Some(labels),
        working_dir: spec.workdir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        stop_signal: spec.stop_signal.clone(),
        tty: Some(spec.tty && streams.tty),
        open_stdin: Some(stdin),
        stdin_once: Some(stdin),
        attach_stdin: Some(stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        volumes: some_vec(&anonymous),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host_config),
        ..ContainerCreateBody::default()
    }
}

/// The `docker run` flags that would ask for what `host` grants, for judging an existing
/// container by the same table as a line. Defaults the engines report (`bridge`, `private`,
/// empty lists) come out as flags the table reads as confined.
pub(crate) fn host_flags(host: &HostConfig) -> Vec<String> {
    let mut flags = Vec::new();
    if host.privileged == Some(true) {
        flags.push("--privileged".to_owned());
    }
    for (flag, mode) in [
        ("--network", &host.network_mode),
        ("--pid", &host.pid_mode),
        ("--ipc", &host.ipc_mode),
        ("--uts", &host.uts_mode),
        ("--userns", &host.userns_mode),
    ] {
        if let Some(mode) = mode.as_deref().filter(|m| !m.is_empty()) {
            flags.push(format!("{flag}={mode}"));
        }
    }
    let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
    flags.extend(list(&host.binds).into_iter().map(|b| format!("--volume={b}")));
    flags.extend(list(&host.cap_add).into_iter().map(|c| format!("--cap-add={c}")));
    flags.extend(list(&host.security_opt).into_iter().map(|s| format!("--security-opt={s}")));
    for m in host.mounts.iter().flatten() {
        let typ = m.typ.map(|t| t.to_string()).unwrap_or_else(|| "volume".to_owned());
        let source = m.source.clone().unwrap_or_default();
        let target = m.target.clone().unwrap_or_default();
        flags.push(format!("--mount=type={typ},source={source},target={target}"));
    }
    for d in host.devices.iter().flatten() {
        flags.push(format!("--device={}", d.path_on_host.clone().unwrap_or_default()));
    }
    // A log driver other than the engines' own sends the output off the container.
    if let Some(driver) = host.log_config.as_ref().and_then(|l| l.typ.as_deref()).filter(|d| !d.is_empty()) {
        flags.push(format!("--log-driver={driver}"));
    }
    for (port, bindings) in host.port_bindings.iter().flatten() {
        for b in bindings.iter().flatten() {
            if b.host_port.as_deref().is_some_and(|p| !p.is_empty()) {
                flags.push(format!("--publish={}:{port}", b.host_port.clone().unwrap_or_default()));
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StreamSetup;
    use crate::label::RunSpec;

    fn body(line: &str, streams: StreamSetup) -> crate::error::Result<ContainerCreateBody> {
        let argv = shell_words::split(line).unwrap();
        let owner = crate::label::Ownership { name: "n".into(), ..Default::default() };
        Ok(create_body(CreateRequest {
            spec: &RunSpec::from_argv(&argv)?,
            image_id: "sha256:1d",
            owner: &owner,
            streams,
        }))
    }

    #[test]
    fn the_container_is_made_from_the_resolved_id_and_marked_as_atomicd_s() {
        let b = ok("docker run -l app=1 img");
        assert_eq!(b.image.as_deref(), Some("sha256:1d"), "by id, not by the line's image word");
        let labels = b.labels.unwrap_or_default();
        assert_eq!(labels.get("app").map(String::as_str), Some("1"));
        assert_eq!(labels.get("org.atomic.managed").map(String::as_str), Some("1"));
        assert_eq!(labels.get("org.atomic.name").map(String::as_str), Some("n"));
    }

    #[test]
    fn host_config_reads_back_as_flags_judged_by_the_same_table() {
        let judged = |line: &str| {
            let h = host(line);
            let mut argv: Vec<String> = vec!["docker".into(), "run".into()];
            argv.extend(host_flags(&h));
            argv.push("img".into());
            RunSpec::from_argv(&argv).unwrap_or_else(|e| panic!("{line}: {argv:?}: {e}")).privileges
        };
        assert!(judged("docker run -v data:/d img").is_empty());
        for line in [
            "docker run --privileged img",
            "docker run -v /:/host img",
            "docker run --net host img",
            "docker run --pid host img",
            "docker run --cap-add SYS_ADMIN img",
            "docker run --device /dev/fuse img",
            "docker run --security-opt label=disable img",
            "docker run --mount type=bind,src=/etc,dst=/e img",
            "docker run -p 8080:80 img",
        ] {
            assert!(!judged(line).is_empty(), "{line}");
        }
        // What podman and Docker report for a plain container.
        let defaults = HostConfig {
            network_mode: Some("bridge".into()),
            pid_mode: Some("private".into()),
            ipc_mode: Some("shareable".into()),
            uts_mode: Some("private".into()),
            userns_mode: Some(String::new()),
            binds: Some(vec!["vol1:/v:rw,rprivate,nosuid,nodev,rbind".into()]),
            cap_add: Some(vec![]),
            security_opt: Some(vec![]),
            port_bindings: Some(PortMap::new()),
            ..HostConfig::default()
        };
        let mut argv: Vec<String> = vec!["docker".into(), "run".into()];
        argv.extend(host_flags(&defaults));
        argv.push("img".into());
        let spec = RunSpec::from_argv(&argv).unwrap();
        assert!(spec.privileges.is_empty(), "{:?}", spec.privileges);
    }

    fn ok(line: &str) -> ContainerCreateBody {
        body(line, StreamSetup::default()).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn host(line: &str) -> HostConfig {
        ok(line).host_config.unwrap_or_default()
    }

    #[test]
    fn the_spc_line_maps_to_a_privileged_host_namespace_container() {
        let h = host("docker run -i --rm --privileged -v /:/host -v /run:/run --net=host --ipc=host --pid=host -e HOST=/host img sh");
        assert_eq!(h.privileged, Some(true));
        assert_eq!(h.binds, Some(vec!["/:/host".to_owned(), "/run:/run".to_owned()]));
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(h.ipc_mode.as_deref(), Some("host"));
        assert_eq!(h.pid_mode.as_deref(), Some("host"));
        assert_eq!(h.auto_remove, None, "a waited --rm container is removed by atomicd");
        let b = ok("docker run -i --rm img sh -c 'exit 3'");
        assert_eq!(b.cmd, Some(vec!["sh".into(), "-c".into(), "exit 3".into()]));
        assert_eq!(b.open_stdin, Some(false), "no client attached: no stdin kept open");
    }

    #[test]
    fn streams_decide_stdin_and_tty() {
        let attached = StreamSetup { stdin: true, tty: true };
        let b = body("docker run -it img", attached).unwrap();
        assert_eq!((b.open_stdin, b.tty), (Some(true), Some(true)));
        let b = body("docker run -t img", StreamSetup::default()).unwrap();
        assert_eq!(b.tty, Some(false));
    }

    #[test]
    fn every_value_flag_lands_in_the_body() {
        let b = ok("docker run -d --rm -v /anon -v data:/d --mount type=bind,src=/etc,dst=/e,ro \
             --mount type=tmpfs,target=/t --device /dev/fuse --device /dev/a:/dev/b:r -p 8080:80 \
             -p 127.0.0.1:53:53/udp --restart on-failure:3 -w /srv --entrypoint /bin/sh -u 1000 \
             --hostname box --tmpfs /run:size=1m --read-only --init -l a=b --log-driver none \
             --stop-signal SIGINT --group-add wheel --cap-drop ALL --security-opt no-new-privileges \
             --uts host --userns host img");
        let h = b.host_config.clone().unwrap_or_default();
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(b.volumes, Some(vec!["/anon".to_owned()]));
        assert_eq!(h.binds, Some(vec!["data:/d".to_owned()]));
        let mounts = h.mounts.unwrap_or_default();
        assert_eq!(mounts.len(), 2);
        assert_eq!((mounts[0].typ, mounts[0].read_only), (Some(MountType::BIND), Some(true)));
        assert_eq!(mounts[1].typ, Some(MountType::TMPFS));
        let devices = h.devices.unwrap_or_default();
        assert_eq!(devices[1].path_in_container.as_deref(), Some("/dev/b"));
        assert_eq!(devices[1].cgroup_permissions.as_deref(), Some("r"));
        assert_eq!(b.exposed_ports, Some(vec!["80/tcp".to_owned(), "53/udp".to_owned()]));
        let ports = h.port_bindings.unwrap_or_default();
        let dns = ports["53/udp"].clone().unwrap_or_default();
        assert_eq!(dns[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(h.restart_policy.and_then(|r| r.maximum_retry_count), Some(3));
        assert_eq!(b.working_dir.as_deref(), Some("/srv"));
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_owned()]));
        assert_eq!(b.user.as_deref(), Some("1000"));
        assert_eq!(b.hostname.as_deref(), Some("box"));
        assert_eq!(h.tmpfs.unwrap_or_default()["/run"], "size=1m");
        assert_eq!((h.readonly_rootfs, h.init), (Some(true), Some(true)));
        assert_eq!(b.labels.unwrap_or_default()["a"], "b");
        assert_eq!(h.log_config.and_then(|l| l.typ).as_deref(), Some("none"));
        assert_eq!(b.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(h.group_add, Some(vec!["wheel".to_owned()]));
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_owned()]));
        assert_eq!((h.uts_mode.as_deref(), h.userns_mode.as_deref()), (Some("host"), Some("host")));
    }

    /// One parse for the judge and the engine: a value the create body could not write is
    /// refused when the line is read, so display and Info already say so.
    #[test]
    fn malformed_values_are_refused_by_name_when_the_line_is_read() {
        let table = [
            ("docker run --mount type=nfs,dst=/x img", "--mount"),
            ("docker run --mount src=/x img", "target is required"),
            ("docker run -p 99999:80 img", "-p"),
            ("docker run -p 80/icmp img", "protocol"),
            ("docker run --restart sometimes img", "--restart"),
            ("docker run --device a:b:c:d img", "--device"),
            ("docker run --mount type=volume,source=x,type=bind,source=/,target=/host img", "more than once"),
        ];
        for (line, needle) in table {
            match body(line, StreamSetup::default()) {
                Err(crate::error::Error::UnsupportedLabel(msg)) => {
                    assert!(msg.contains(needle), "{line}: {msg}")
                }
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
