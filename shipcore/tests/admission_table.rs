//! The admission policy as a table: every field of every family that asks
//! for more than an ordinary container (compose keys, the Docker endpoint's
//! `HostConfig`, the cluster API's request, volume and network options) ×
//! every kind of role, with the answer expected. The function is pure: the
//! same table runs without engines, HTTP or a store.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use shipcore::compose::{parse, ParseOptions};
use shipcore::model::admission::{network_wants, volume_wants};
use shipcore::model::{admit, Capability, ImageConfig, Owner, Role};

fn owner(role: &str, perms: &[&str]) -> Owner {
    Owner {
        name: "someone".into(),
        role: Role::new(role, perms).unwrap(),
    }
}

/// The roles every case is judged for: (name, owner, capabilities held).
fn roles() -> Vec<(&'static str, Owner, Vec<Capability>)> {
    vec![
        ("admin", owner("admin", &[]), Capability::ALL.to_vec()),
        ("user", owner("user", &[]), vec![]),
        (
            "binder",
            owner("binder", &["containers:rw", "host-binds:rw"]),
            vec![Capability::HostBinds],
        ),
        (
            "netops",
            owner(
                "netops",
                &["containers:rw", "host-namespaces:rw", "network-drivers:rw"],
            ),
            vec![Capability::HostNamespaces, Capability::NetworkDrivers],
        ),
        // `ro` of a capability is not holding it.
        (
            "ro",
            owner("ro", &["privileged:ro", "host-binds:ro"]),
            vec![],
        ),
        ("star", owner("star", &["*"]), Capability::ALL.to_vec()),
    ]
}

/// What a request is, in its family's own form.
enum Asks {
    /// The cluster API's deploy body (and the Docker endpoint's request as
    /// the endpoint translates it: its extras under `docker`).
    Request(&'static str),
    /// A compose file.
    Compose(&'static str),
    /// A volume: driver and options.
    Volume(&'static str, &'static [(&'static str, &'static str)]),
    /// A network: driver.
    Network(&'static str),
}

fn judge(asks: &Asks, who: &Owner) -> Result<(), String> {
    let r = match asks {
        Asks::Request(json) => {
            let cfg: ImageConfig = serde_json::from_str(json).unwrap();
            cfg.validate().unwrap();
            cfg.admit(who)
        }
        Asks::Compose(yaml) => {
            let file = parse(yaml, &BTreeMap::new(), &ParseOptions { allow_binds: true }).unwrap();
            file.admit(who)
        }
        Asks::Volume(driver, opts) => {
            admit(who, &volume_wants("driverOpts", driver, !opts.is_empty()))
        }
        Asks::Network(driver) => admit(who, &network_wants("Driver", driver, false)),
    };
    r.map_err(|e| e.to_string())
}

#[test]
fn every_dangerous_field_of_every_family_by_role() {
    use Capability as C;
    // (what, the request, the capability it needs; None: an ordinary one)
    let cases: Vec<(&str, Asks, Option<C>)> = vec![
        // The cluster API.
        ("cluster API: plain", Asks::Request(r#"{"name":"app:1","cpus":0.1,"memory":16,"volumes":["data:/data","/scratch"]}"#), None),
        ("cluster API: volumes host path", Asks::Request(r#"{"name":"app:1","cpus":0.1,"memory":16,"volumes":["/:/host"]}"#), Some(C::HostBinds)),
        ("cluster API: volumes host path ro", Asks::Request(r#"{"name":"app:1","cpus":0.1,"memory":16,"volumes":["/etc:/etc:ro"]}"#), Some(C::HostBinds)),
        ("cluster API: network_mode host", Asks::Request(r#"{"name":"app:1","cpus":0.1,"memory":16,"network_mode":"host"}"#), Some(C::HostNamespaces)),
        ("cluster API: network_mode none", Asks::Request(r#"{"name":"app:1","cpus":0.1,"memory":16,"network_mode":"none"}"#), None),
        // The Docker endpoint's HostConfig, as translated.
        ("Docker: Binds host path", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"volumes":["/var/run/docker.sock:/var/run/docker.sock"],"docker":{}}"#), Some(C::HostBinds)),
        ("Docker: Privileged", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"privileged":true}}}"#), Some(C::Privileged)),
        ("Docker: CapAdd", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"cap_add":["SYS_ADMIN"]}}}"#), Some(C::CapAdd)),
        ("Docker: Devices", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"devices":["/dev/sda"]}}}"#), Some(C::Devices)),
        ("Docker: NetworkMode host", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"network_mode":"host","docker":{}}"#), Some(C::HostNamespaces)),
        ("Docker: PidMode host", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"pid_mode":"host"}}}"#), Some(C::HostNamespaces)),
        ("Docker: PidMode container", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"pid_mode":"container:x"}}}"#), None),
        ("Docker: IpcMode host", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"ipc_mode":"host"}}}"#), Some(C::HostNamespaces)),
        ("Docker: UTSMode host", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"uts_mode":"host"}}}"#), Some(C::HostNamespaces)),
        ("Docker: UsernsMode host", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"userns_mode":"host"}}}"#), Some(C::HostNamespaces)),
        ("Docker: SecurityOpt", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"security_opt":["apparmor=unconfined"]}}}"#), Some(C::SecurityOptions)),
        ("Docker: Sysctls", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"host":{"sysctls":{"net.core.somaxconn":"1024"}}}}"#), Some(C::SecurityOptions)),
        ("Docker: plain with tmpfs and init", Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"tmpfs":["/run"],"init":true}}"#), None),
        // Compose.
        ("compose: named volume", Asks::Compose("services:\n  web:\n    image: app:1\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n"), None),
        ("compose: bind short", Asks::Compose("services:\n  web:\n    image: app:1\n    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n"), Some(C::HostBinds)),
        ("compose: bind long", Asks::Compose("services:\n  web:\n    image: app:1\n    volumes:\n      - type: bind\n        source: /etc\n        target: /host-etc\n"), Some(C::HostBinds)),
        ("compose: relative bind", Asks::Compose("services:\n  web:\n    image: app:1\n    volumes: [\"./conf:/conf\"]\n"), Some(C::HostBinds)),
        ("compose: volume driver_opts bind", Asks::Compose("services:\n  web:\n    image: app:1\n    volumes: [\"root:/host\"]\nvolumes:\n  root:\n    driver_opts: {type: none, o: bind, device: /}\n"), Some(C::VolumeOptions)),
        ("compose: volume driver", Asks::Compose("services:\n  web:\n    image: app:1\nvolumes:\n  v:\n    driver: rexray\n"), Some(C::VolumeOptions)),
        ("compose: volume driver local", Asks::Compose("services:\n  web:\n    image: app:1\nvolumes:\n  v:\n    driver: local\n"), None),
        ("compose: network macvlan", Asks::Compose("services:\n  web:\n    image: app:1\n    networks: [lan]\nnetworks:\n  lan:\n    driver: macvlan\n"), Some(C::NetworkDrivers)),
        ("compose: oom_kill_disable", Asks::Compose("services:\n  web:\n    image: app:1\n    oom_kill_disable: true\n"), Some(C::SecurityOptions)),
        ("compose: cpu_rt_runtime", Asks::Compose("services:\n  web:\n    image: app:1\n    cpu_rt_runtime: 950000\n"), Some(C::SecurityOptions)),
        ("compose: cpu_quota, mem_swappiness, storage_opt", Asks::Compose("services:\n  web:\n    image: app:1\n    cpu_quota: 50000\n    mem_swappiness: 0\n    storage_opt: {size: 1G}\n"), None),
        ("compose: network bridge", Asks::Compose("services:\n  web:\n    image: app:1\n    networks: [back]\nnetworks:\n  back:\n    driver: bridge\n"), None),
        // Volumes (the 003 API and the Docker endpoint) and networks.
        ("volume: local", Asks::Volume("local", &[]), None),
        ("volume: local bind options", Asks::Volume("local", &[("type", "none"), ("o", "bind"), ("device", "/")]), Some(C::VolumeOptions)),
        ("volume: nfs options", Asks::Volume("local", &[("type", "nfs"), ("o", "addr=10.0.0.1")]), Some(C::VolumeOptions)),
        ("volume: plugin driver", Asks::Volume("sshfs", &[]), Some(C::VolumeOptions)),
        ("network: bridge", Asks::Network("bridge"), None),
        ("network: host", Asks::Network("host"), Some(C::NetworkDrivers)),
        ("network: overlay", Asks::Network("overlay"), Some(C::NetworkDrivers)),
        ("network: ipvlan", Asks::Network("ipvlan"), Some(C::NetworkDrivers)),
    ];
    for (what, asks, needs) in &cases {
        for (role, who, held) in roles() {
            let got = judge(asks, &who);
            match needs {
                None => assert!(got.is_ok(), "{what} for {role}: {got:?}"),
                Some(c) if held.contains(c) => assert!(got.is_ok(), "{what} for {role}: {got:?}"),
                Some(c) => {
                    let e = got.expect_err(&format!("{what} for {role}: admitted"));
                    assert!(
                        e.contains(&format!(
                            "needs the capability {c}, which role {role} does not hold"
                        )),
                        "{what} for {role}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_clusters_labels_are_refused_to_every_role() {
    let cases = [
        Asks::Compose("services:\n  web:\n    image: app:1\n    labels:\n      io.shipcore.cluster: x\n"),
        Asks::Compose("services:\n  web:\n    image: app:1\n    labels: [\"io.shipcore.config={}\"]\n"),
        Asks::Compose("services:\n  web:\n    image: app:1\nvolumes:\n  v:\n    labels: {io.shipcore.compose: x}\n"),
        Asks::Compose("services:\n  web:\n    image: app:1\nnetworks:\n  n:\n    labels: {io.shipcore.project: x}\n"),
        Asks::Request(r#"{"name":"app:1","cpus":0,"memory":0,"docker":{"labels":{"io.shipcore.deploy":"d"}}}"#),
    ];
    for asks in &cases {
        for (role, who, _) in roles() {
            let e = judge(asks, &who).expect_err(role);
            assert!(e.contains("reserved"), "{role}: {e}");
        }
    }
    // Labels that only look alike are the user's own.
    let fine = Asks::Compose("services:\n  web:\n    image: app:1\n    labels: {io.shipcorex: a, com.example.io.shipcore.x: b}\n");
    assert!(judge(&fine, &owner("user", &[])).is_ok());
}
