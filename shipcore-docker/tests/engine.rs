//! The Docker backend against the real engines of the test bed
//! (`eval "$(scripts/engines up)"`). Each test prints `SKIP: no engine` and
//! passes when the engines are not there, except under `CI=true`.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use shipcore::engine::*;
use shipcore::Error;
use shipcore_docker::{DockerEngine, EngineTarget};
use support::{engine, registry, unique, IMAGE};

fn spec(name: &str, cmd: &[&str]) -> ContainerSpec {
    ContainerSpec {
        name: Some(name.to_string()),
        image: IMAGE.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        ..ContainerSpec::default()
    }
}

async fn wait_exited(e: &DockerEngine, id: &str) -> ContainerDetails {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = e.inspect_container(id).await.unwrap();
        if !d.state.running || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn logs(e: &DockerEngine, id: &str) -> (String, String) {
    let chunks: Vec<LogChunk> = e
        .logs(id, &LogOptions::default())
        .try_collect()
        .await
        .unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    for c in chunks {
        let text = String::from_utf8_lossy(&c.data).to_string();
        match c.stream {
            LogStream::Stderr => err.push_str(&text),
            _ => out.push_str(&text),
        }
    }
    (out, err)
}

#[tokio::test]
async fn container_lifecycle_logs_and_labels() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    e.ping().await.unwrap();
    let info = e.info().await.unwrap();
    assert!(info.cpus >= 1000 && info.memory > 0, "{info:?}");

    let name = unique("lifecycle");
    let mut s = spec(&name, &["sh", "-c", "echo hello; echo oops >&2"]);
    s.labels = BTreeMap::from([("shipcore.test".into(), name.clone())]);
    s.memory = 64;
    s.cpus = 500;
    let id = e.create_container(&s).await.unwrap();
    e.start_container(&id).await.unwrap();
    let d = wait_exited(&e, &id).await;
    assert_eq!((d.state.running, d.state.exit_code), (false, 0), "{d:?}");
    assert_eq!((d.memory, d.cpus), (64, 500));
    assert_eq!(d.name, name);
    assert_eq!(
        logs(&e, &id).await,
        ("hello\n".to_string(), "oops\n".to_string())
    );

    let filter = ContainerFilter {
        all: true,
        labels: vec![format!("shipcore.test={name}")],
        name: None,
    };
    let listed = e.list_containers(&filter).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    assert_eq!(listed[0].labels.get("shipcore.test"), Some(&name));
    let other = ContainerFilter {
        all: true,
        labels: vec!["shipcore.test=nobody".into()],
        name: None,
    };
    assert!(e.list_containers(&other).await.unwrap().is_empty());

    e.stop_container(&id, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    e.remove_container(&id, false, true).await.unwrap();
    assert!(matches!(
        e.inspect_container(&id).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn published_port_answers_on_loopback() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let name = unique("httpd");
    let mut s = spec(&name, &["sh", "-c", "mkdir -p /www && echo hi from shipcore > /www/index.html && exec httpd -f -p 80 -h /www"]);
    s.ports = vec![PortBinding {
        container_port: 80,
        proto: shipcore::model::Proto::Tcp,
        host_ip: "127.0.0.1".into(),
        host_port: 0,
        host_port_end: 0,
    }];
    let id = e.create_container(&s).await.unwrap();
    e.start_container(&id).await.unwrap();
    let d = e.inspect_container(&id).await.unwrap();
    let port = d
        .ports
        .iter()
        .find(|p| p.container_port == 80)
        .map(|p| p.port)
        .unwrap();
    assert!(port > 0, "{:?}", d.ports);

    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let attempt = std::net::TcpStream::connect(("127.0.0.1", port as u16)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut buf = String::new();
            c.read_to_string(&mut buf)?;
            Ok(buf)
        });
        match attempt {
            Ok(b) if b.contains("200") => break b,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("httpd never answered: {other:?}"),
        }
    };
    assert!(body.ends_with("hi from shipcore\n"), "{body}");
    e.kill_container(&id, "KILL").await.unwrap();
    e.remove_container(&id, true, true).await.unwrap();
}

#[tokio::test]
async fn push_and_pull_through_the_local_registry() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let Some(registry) = registry() else {
        return;
    };
    let target = format!("{registry}/shipcore/busybox:{}", unique("t"));
    e.tag_image(IMAGE, &target).await.unwrap();
    let pushed: Vec<Progress> = e.push_image(&target, None).try_collect().await.unwrap();
    assert!(
        pushed.iter().any(|p| p.status.contains("digest")
            || p.status == "Pushed"
            || p.status.contains("Layer already exists")),
        "{pushed:?}"
    );

    e.remove_image(&target, false).await.unwrap();
    assert!(matches!(
        e.inspect_image(&target).await,
        Err(Error::NotFound { .. })
    ));
    let pulled: Vec<Progress> = e.pull_image(&target, None).try_collect().await.unwrap();
    assert!(!pulled.is_empty());
    assert!(
        pulled
            .iter()
            .any(|p| p.status.starts_with("Digest:") || p.status.starts_with("Status:")),
        "{pulled:?}"
    );
    let img = e.inspect_image(&target).await.unwrap();
    assert!(img.tags.contains(&target), "{img:?}");
    e.remove_image(&target, false).await.unwrap();

    // A pull of something the registry does not have fails in the stream.
    let missing = format!("{registry}/shipcore/nothing-here:never");
    let err = e
        .pull_image(&missing, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { .. } | Error::EngineApi { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn events_report_start_and_die() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 1;
    let mut events = e.events(Some(since));
    let id = e
        .create_container(&spec(&unique("events"), &["true"]))
        .await
        .unwrap();
    e.start_container(&id).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(deadline);
    while !(seen.contains(&"start".to_string()) && seen.contains(&"die".to_string())) {
        tokio::select! {
            ev = events.next() => {
                let ev = ev.expect("event stream ended").unwrap();
                if ev.kind == "container" && ev.id == id {
                    seen.push(ev.action.clone());
                }
            }
            _ = &mut deadline => panic!("no start and die events, saw {seen:?}"),
        }
    }
    e.remove_container(&id, true, false).await.unwrap();
}

#[tokio::test]
async fn tls_engine_needs_the_right_ca() {
    let Some((addr, certs)) = support::tls_engine() else {
        return;
    };
    let good = DockerEngine::new(
        &EngineTarget::new("tls", addr.clone()).with_tls(support::tls_material(&certs)),
    )
    .unwrap();
    good.ping().await.unwrap();
    assert!(good.info().await.unwrap().cpus > 0);

    // The right client certificate, but a CA that did not sign the engine's.
    let mut wrong_ca = support::tls_material(&certs);
    wrong_ca.ca = std::fs::read_to_string(certs.join("wrong-ca/ca.pem")).unwrap();
    let bad =
        DockerEngine::new(&EngineTarget::new("tls", addr.clone()).with_tls(wrong_ca)).unwrap();
    let err = bad.ping().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");

    // A client certificate the engine's CA did not sign.
    let wrong_client = support::tls_material(&certs.join("wrong-ca"));
    let wrong_client = shipcore_docker::TlsMaterial {
        ca: support::tls_material(&certs).ca,
        ..wrong_client
    };
    let bad =
        DockerEngine::new(&EngineTarget::new("tls", addr.clone()).with_tls(wrong_client)).unwrap();
    let err = bad.ping().await.unwrap_err();
    assert!(
        matches!(err, Error::Tls { .. } | Error::Unreachable { .. }),
        "{err}"
    );

    // Without TLS at all the engine does not speak to us.
    let plain =
        DockerEngine::new(&EngineTarget::new("tls", addr).with_timeout(Duration::from_secs(3)))
            .unwrap();
    assert!(plain.ping().await.is_err());
}

#[tokio::test]
async fn unreachable_engine_fails_within_the_timeout() {
    // A closed loopback port: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = DockerEngine::new(
        &EngineTarget::new("gone", addr.clone()).with_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let t = Instant::now();
    let err = e.ping().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");

    // A listener that accepts and never answers: the timeout applies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", silent.local_addr().unwrap());
    let e =
        DockerEngine::new(&EngineTarget::new("silent", addr).with_timeout(Duration::from_secs(1)))
            .unwrap();
    let t = Instant::now();
    let err = e.ping().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(err.to_string().contains("unreachable"), "{err}");
    drop(silent);
}

#[tokio::test]
async fn build_from_scratch_streams_its_output() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static provides /bin/busybox");
    let dockerfile = "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"echo\", \"built by shipcore\"]\n";
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data, mode) in [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("busybox", busybox.as_slice(), 0o755),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        tar.append_data(&mut h, path, data).unwrap();
    }
    let context = tar.into_inner().unwrap();
    let tag = format!("shipcore/built:{}", unique("b"));
    let opts = BuildOptions {
        tag: tag.clone(),
        ..BuildOptions::default()
    };
    let out: Vec<BuildOutput> = e.build_image(context, &opts).try_collect().await.unwrap();
    let lines: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            BuildOutput::Log(l) => Some(l.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Step 1/3 : FROM scratch")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Successfully tagged")),
        "{lines:?}"
    );

    let id = e
        .create_container(&ContainerSpec {
            image: tag.clone(),
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    e.start_container(&id).await.unwrap();
    wait_exited(&e, &id).await;
    assert_eq!(logs(&e, &id).await.0, "built by shipcore\n");
    e.remove_container(&id, true, false).await.unwrap();
    e.remove_image(&tag, true).await.unwrap();

    // A broken Dockerfile is an error in the stream, not a panic.
    let mut tar = tar::Builder::new(Vec::new());
    let bad = b"FROM scratch\nRUN-THIS nonsense\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(bad.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "Dockerfile", &bad[..]).unwrap();
    let err = e
        .build_image(tar.into_inner().unwrap(), &BuildOptions::default())
        .try_collect::<Vec<_>>()
        .await;
    assert!(err.is_err(), "{err:?}");
}

#[tokio::test]
async fn missing_things_are_typed_not_found() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let nf = |r: Result<(), Error>| matches!(r, Err(Error::NotFound { .. }));
    assert!(nf(e
        .inspect_container("shipcore-no-such-container")
        .await
        .map(|_| ())));
    assert!(nf(e.start_container("shipcore-no-such-container").await));
    assert!(nf(e
        .remove_container("shipcore-no-such-container", true, false)
        .await));
    assert!(nf(e
        .inspect_image("shipcore/no-such-image:never")
        .await
        .map(|_| ())));
    assert!(nf(e
        .remove_image("shipcore/no-such-image:never", false)
        .await));
    assert!(nf(e
        .inspect_volume("shipcore-no-such-volume")
        .await
        .map(|_| ())));
    assert!(nf(e.remove_network("shipcore-no-such-network").await));
    let err = e
        .logs("shipcore-no-such-container", &LogOptions::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = e
        .create_container(&ContainerSpec {
            image: "shipcore/no-such-image:never".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("no such image"), "{err}");
}

#[tokio::test]
async fn volumes_networks_and_save_load() {
    let Some(e) = engine("SHIPCORE_ENGINE_A") else {
        return;
    };
    let vol = unique("vol");
    let v = e
        .create_volume(&VolumeSpec {
            name: vol.clone(),
            labels: BTreeMap::from([("shipcore".into(), "test".into())]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (v.name.as_str(), v.driver.as_str()),
        (vol.as_str(), "local")
    );
    assert!(e
        .list_volumes()
        .await
        .unwrap()
        .iter()
        .any(|x| x.name == vol));
    assert_eq!(
        e.inspect_volume(&vol)
            .await
            .unwrap()
            .labels
            .get("shipcore")
            .map(String::as_str),
        Some("test")
    );

    let net = unique("net");
    e.create_network(&NetworkSpec {
        name: net.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut s = spec(&unique("netted"), &["sleep", "30"]);
    s.binds = vec![format!("{vol}:/data")];
    let id = e.create_container(&s).await.unwrap();
    e.start_container(&id).await.unwrap();
    e.connect_network(
        &net,
        &id,
        &shipcore::model::Endpoint::aliased(vec!["db".to_string()]),
    )
    .await
    .unwrap();
    assert!(e
        .inspect_container(&id)
        .await
        .unwrap()
        .networks
        .contains_key(&net));

    // Checked by use: a file written through the volume by one container...
    let mut w = spec(
        &unique("writer"),
        &["sh", "-c", "echo written-through-the-volume > /data/f"],
    );
    w.binds = vec![format!("{vol}:/data")];
    let writer = e.create_container(&w).await.unwrap();
    e.start_container(&writer).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.inspect_container(&writer).await.unwrap().state.running {
        assert!(Instant::now() < deadline, "the writer did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...is read through another, on the network, which reaches the first
    // container by its alias.
    let mut r = spec(
        &unique("reader"),
        &[
            "sh",
            "-c",
            "cat /data/f; ping -c 1 -W 2 db >/dev/null && echo alias-resolved; sleep 30",
        ],
    );
    r.binds = vec![format!("{vol}:/data:ro")];
    r.network = Some(net.clone());
    let reader = e.create_container(&r).await.unwrap();
    e.start_container(&reader).await.unwrap();
    let mut out = String::new();
    while !(out.contains("written-through-the-volume") && out.contains("alias-resolved")) {
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "the reader saw: {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let chunks: Vec<LogChunk> = e
            .logs(&reader, &LogOptions::default())
            .try_collect()
            .await
            .unwrap();
        out = chunks
            .iter()
            .map(|c| String::from_utf8_lossy(&c.data).into_owned())
            .collect();
    }
    for c in [&writer, &reader] {
        e.remove_container(c, true, false).await.unwrap();
    }
    e.disconnect_network(&net, &id, true).await.unwrap();
    e.remove_container(&id, true, false).await.unwrap();
    e.remove_network(&net).await.unwrap();
    e.remove_volume(&vol, false).await.unwrap();

    let archive: Vec<Vec<u8>> = e
        .save_images(&[IMAGE.to_string()])
        .try_collect()
        .await
        .unwrap();
    let archive: Vec<u8> = archive.concat();
    assert!(archive.len() > 100_000, "{}", archive.len());
    e.load_images(archive).await.unwrap();
}

#[tokio::test]
async fn plain_tcp_engine_answers_over_reused_connections() {
    let Some(e) = engine("SHIPCORE_ENGINE_B_TCP") else {
        return;
    };
    e.ping().await.unwrap();
    for _ in 0..5 {
        e.list_containers(&ContainerFilter::default())
            .await
            .unwrap();
    }
    assert!(e.inspect_image(IMAGE).await.is_ok());
    // Shipyard's form of the same address.
    let addr = std::env::var("SHIPCORE_ENGINE_B_TCP")
        .unwrap()
        .replace("tcp://", "http://");
    let shipyard = DockerEngine::new(&EngineTarget::new("b", addr)).unwrap();
    assert!(shipyard.info().await.unwrap().memory > 0);
}
