//! The registry's garbage collection against random histories: blobs
//! pushed (and mounted) into two repositories, manifests put by tag,
//! tags and manifests deleted, uploads left in flight; then a collection.
//! No blob a remaining manifest references is ever removed (nor changed),
//! no unreferenced blob is left, and the uploads in flight still finish.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};
use shipcore::clock::SystemClock;
use shipcore::registry::manifest::DOCKER_MANIFEST;
use shipcore::registry::{BlobStore, Digest, Reference, Registry, Repository};
use shipcore::store::MemoryStore;

/// The contents blobs are made of.
const CONTENTS: [&[u8]; 5] = [b"config-a", b"config-b", b"layer-1", b"layer-2", b"layer-3"];
const REPOS: [&str; 2] = ["team/app", "team/db"];
const TAGS: [&str; 3] = ["1.0", "2.0", "latest"];

#[derive(Debug, Clone)]
enum Op {
    Push {
        repo: usize,
        content: usize,
    },
    Mount {
        from: usize,
        content: usize,
    },
    Manifest {
        repo: usize,
        tag: usize,
        config: usize,
        layer: usize,
    },
    DeleteTag {
        repo: usize,
        tag: usize,
    },
    DeleteManifest {
        repo: usize,
        tag: usize,
    },
    /// An upload of a content, half sent and left open.
    Upload {
        content: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..5usize).prop_map(|(repo, content)| Op::Push { repo, content }),
        (0..2usize, 0..5usize).prop_map(|(from, content)| Op::Mount { from, content }),
        (0..2usize, 0..3usize, 0..2usize, 2..5usize).prop_map(|(repo, tag, config, layer)| {
            Op::Manifest {
                repo,
                tag,
                config,
                layer,
            }
        }),
        (0..2usize, 0..3usize).prop_map(|(repo, tag)| Op::DeleteTag { repo, tag }),
        (0..2usize, 0..3usize).prop_map(|(repo, tag)| Op::DeleteManifest { repo, tag }),
        (0..5usize).prop_map(|content| Op::Upload { content }),
    ]
}

fn digest(data: &[u8]) -> Digest {
    Digest::from_bytes(Sha256::digest(data).into())
}

fn manifest(config: &Digest, layer: &Digest) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":8}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":7}}]}}"#
    )
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path()).await.unwrap();
    let r = Registry::new(
        Arc::new(MemoryStore::new()),
        blobs.clone(),
        Arc::new(SystemClock::new()),
    );
    let repos: Vec<Repository> = REPOS
        .iter()
        .map(|n| Repository::parse(n).unwrap())
        .collect();
    let mut in_flight = Vec::new();
    for op in ops {
        match op {
            Op::Push { repo, content } => {
                let data = CONTENTS[content];
                let d = digest(data);
                let body = futures::stream::iter([Ok(Bytes::from_static(data))]);
                blobs.put(&d, 1 << 20, body).await.unwrap();
                r.link_blob(&repos[repo], &d, "t").await.unwrap();
            }
            Op::Mount { from, content } => {
                let d = digest(CONTENTS[content]);
                let mounted = r
                    .mount(&repos[from], &repos[1 - from], &d, "t")
                    .await
                    .unwrap();
                assert_eq!(mounted, r.blob(&repos[from], &d).await.unwrap().is_some());
            }
            Op::Manifest {
                repo,
                tag,
                config,
                layer,
            } => {
                let (c, l) = (digest(CONTENTS[config]), digest(CONTENTS[layer]));
                let has = r.blob(&repos[repo], &c).await.unwrap().is_some()
                    && r.blob(&repos[repo], &l).await.unwrap().is_some();
                let put = r
                    .put_manifest(
                        &repos[repo],
                        &Reference::parse(TAGS[tag]).unwrap(),
                        manifest(&c, &l).as_bytes(),
                        DOCKER_MANIFEST,
                        "t",
                    )
                    .await;
                assert_eq!(put.is_ok(), has, "{put:?}");
            }
            Op::DeleteTag { repo, tag } => {
                let _ = r.delete_tag(&repos[repo], TAGS[tag], "t").await;
            }
            Op::DeleteManifest { repo, tag } => {
                let reference = Reference::parse(TAGS[tag]).unwrap();
                if let Ok(d) = r.resolve(&repos[repo], &reference).await {
                    r.delete_manifest(&repos[repo], &d, "t").await.unwrap();
                }
            }
            Op::Upload { content } => {
                let data = CONTENTS[content];
                let id = blobs.start_upload().await.unwrap();
                let half = Bytes::from_static(&data[..data.len() / 2]);
                blobs
                    .append(&id, None, 1 << 20, futures::stream::iter([Ok(half)]))
                    .await
                    .unwrap();
                in_flight.push((id, content));
            }
        }
    }
    // What the remaining manifests (tagged or kept by digest) reference.
    let referenced = referenced(&r, &repos).await;
    r.collect_garbage(Duration::ZERO).await.unwrap();
    let left: BTreeSet<Digest> = blobs
        .blobs()
        .await
        .unwrap()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(
        left, referenced,
        "kept blobs are exactly the referenced ones"
    );
    for d in &referenced {
        let (mut f, _) = blobs.open_blob(d).await.unwrap().unwrap();
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut f, &mut bytes)
            .await
            .unwrap();
        assert_eq!(
            digest(&bytes),
            *d,
            "a kept blob no longer matches its digest"
        );
    }
    // Uploads in flight were not touched: each finishes.
    for (id, content) in in_flight {
        let data = CONTENTS[content];
        let rest = Bytes::from_static(&data[data.len() / 2..]);
        blobs
            .append(
                &id,
                Some((data.len() / 2) as u64),
                1 << 20,
                futures::stream::iter([Ok(rest)]),
            )
            .await
            .unwrap();
        blobs.finish(&id, &digest(data)).await.unwrap();
    }
}

/// The blobs of every manifest stored (each manifest this test can make,
/// looked up by its digest in each repository).
async fn referenced(r: &Registry, repos: &[Repository]) -> BTreeSet<Digest> {
    let mut out = BTreeSet::new();
    for repo in repos {
        for config in &CONTENTS[..2] {
            for layer in &CONTENTS[2..] {
                let m = manifest(&digest(config), &digest(layer));
                let md = digest(m.as_bytes());
                if let Ok(doc) = r.manifest(repo, &Reference::Digest(md), None).await {
                    out.extend(doc.blobs.iter().map(|b| Digest::parse(b).unwrap()));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn collection_keeps_what_is_referenced_and_only_that(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
