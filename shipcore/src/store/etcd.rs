//! `EtcdStore`: the state store in an etcd v3 cluster (feature `etcd`), for
//! several `shipd` replicas sharing one state.
//!
//! The store's semantics were written after etcd's, so the mapping is
//! direct:
//! - Every key lives under a namespace (`shipcore/` unless told otherwise),
//!   so one etcd cluster can hold several stores and other data.
//! - Revisions are etcd's, counted from the namespace's creation: at its
//!   first open the store writes a marker key beside the namespace, and the
//!   marker's revision is the namespace's revision 0. A store that is the
//!   only writer of its etcd cluster thus numbers its writes 1, 2, 3…; writes
//!   of others (other namespaces, the leader election) take revisions too,
//!   which the store's revisions then skip, as etcd's do.
//! - A conditional write is one transaction: a compare on the key's
//!   `mod_revision` (or its absence), then the write; when the compare fails
//!   the other branch reads the key, so the conflict names what it holds.
//! - A batch is one transaction (etcd refuses more than 128 operations or
//!   1.5 MiB by default; the trait's limits stay within both).
//! - Listings page through a range at one revision, so a large prefix is
//!   read in pieces of bounded size but as one snapshot.
//! - Change streams are etcd watches from the revision after `since`; a
//!   compacted revision is [`Error::WatchLost`], at once when the stream is
//!   opened and as the stream's last item when the compaction overtakes it.
//! - [`EtcdStore::set_fence`] makes every write of this handle conditional
//!   on a key's existence at a revision: the leader's election key, so that
//!   a replica whose lease ran out cannot write what only the leader may.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, SortOrder,
    SortTarget, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use futures::StreamExt;

use super::{
    check_batch, check_key, check_value, Change, ChangeKind, ChangeStream, Expect, Op, Page, Store,
    Versioned,
};
use crate::{Error, Result};

/// Keys read per request when listing: bounded so no answer nears the
/// client's 4 MiB message limit with documents of the usual size.
const LIST_PAGE: i64 = 512;

/// How to reach an etcd cluster.
#[derive(Clone, Default)]
pub struct EtcdConfig {
    /// `host:port` or `http(s)://host:port` of the members.
    pub endpoints: Vec<String>,
    /// The prefix every key of the store lives under.
    pub namespace: String,
    /// etcd's own authentication (user, password), if it is on.
    pub user: Option<(String, String)>,
    /// TLS to the members: the CA that signed their certificates (PEM), and
    /// a client certificate and key (PEM) when they ask for one.
    pub ca: Option<Vec<u8>>,
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The longest one request may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password and the client key stay out of logs.
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("namespace", &self.namespace)
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("tls", &self.ca.is_some())
            .finish_non_exhaustive()
    }
}

impl EtcdConfig {
    /// Reads `etcd://host:port[,host:port…][/namespace]` (or `etcds://…`
    /// for TLS, whose CA and client identity are set apart).
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |why: &str| Error::invalid("store", format!("{url}: {why}"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("etcd://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("etcds://") {
            (true, r)
        } else {
            return Err(invalid(
                "an etcd store is etcd://HOST:PORT[,HOST:PORT…][/NAMESPACE]",
            ));
        };
        let (hosts, namespace) = match rest.split_once('/') {
            Some((h, ns)) if !ns.is_empty() => (h, format!("{}/", ns.trim_end_matches('/'))),
            Some((h, _)) => (h, "shipcore/".to_string()),
            None => (rest, "shipcore/".to_string()),
        };
        let scheme = if tls { "https" } else { "http" };
        let mut endpoints = Vec::new();
        for h in hosts.split(',').filter(|h| !h.is_empty()) {
            let (host, port) = h
                .rsplit_once(':')
                .ok_or_else(|| invalid("each member is HOST:PORT"))?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid("each member is HOST:PORT"));
            }
            endpoints.push(format!("{scheme}://{h}"));
        }
        if endpoints.is_empty() {
            return Err(invalid("no member given"));
        }
        Ok(EtcdConfig {
            endpoints,
            namespace,
            user: None,
            ca: None,
            identity: None,
            timeout: Duration::from_secs(10),
        })
    }
}

/// A condition every write of a fenced handle carries: `key` still exists
/// and was created at `revision` (an etcd revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub key: Vec<u8>,
    pub revision: i64,
}

/// The state store in etcd. Clones share the connection and the fence.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    ns: Arc<str>,
    /// The etcd revision that is this namespace's revision 0.
    base: i64,
    fence: Arc<RwLock<Option<Fence>>>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("namespace", &self.ns)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn storage(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage {
        reason: format!("etcd {what}: {e}"),
    }
}

/// Whether an etcd error says the revision asked for was compacted.
fn compacted(e: &etcd_client::Error) -> bool {
    e.to_string()
        .contains("required revision has been compacted")
}

/// The least key above every key starting with `prefix` (etcd's rule:
/// the last byte below 0xff incremented, the 0xff bytes after it dropped);
/// `\0` (every key) when there is none.
fn bytes_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl EtcdStore {
    /// Connects and opens the namespace, creating its marker on first use.
    pub async fn connect(config: &EtcdConfig) -> Result<Self> {
        let mut options = ConnectOptions::new()
            .with_timeout(config.timeout)
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5));
        if let Some((user, password)) = &config.user {
            options = options.with_user(user.clone(), password.clone());
        }
        if config.ca.is_some() || config.identity.is_some() {
            let mut tls = etcd_client::TlsOptions::new();
            if let Some(ca) = &config.ca {
                tls = tls.ca_certificate(etcd_client::Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &config.identity {
                tls = tls.identity(etcd_client::Identity::from_pem(cert, key));
            }
            options = options.with_tls(tls);
        }
        let client = Client::connect(&config.endpoints, Some(options))
            .await
            .map_err(|e| storage("connect", e))?;
        Self::open(client, &config.namespace).await
    }

    /// Opens the namespace `ns` over a connected client.
    pub async fn open(mut client: Client, ns: &str) -> Result<Self> {
        if ns.is_empty() {
            return Err(Error::invalid(
                "namespace",
                "must not be empty: the store's marker lives beside it",
            ));
        }
        let marker = Self::marker_of(ns);
        // Made once: the first opener's write wins, every later one reads it.
        let txn = Txn::new()
            .when([Compare::version(marker.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(marker.clone(), b"shipcore store".to_vec(), None)])
            .or_else([TxnOp::get(marker.clone(), None)]);
        let resp = client.txn(txn).await.map_err(|e| storage("open", e))?;
        let base = if resp.succeeded() {
            resp.header().map_or(0, |h| h.revision())
        } else {
            resp.op_responses()
                .into_iter()
                .find_map(|r| match r {
                    TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.create_revision()),
                    _ => None,
                })
                .ok_or_else(|| storage("open", "the namespace marker vanished"))?
        };
        Ok(EtcdStore {
            client,
            ns: ns.into(),
            base,
            fence: Arc::new(RwLock::new(None)),
        })
    }

    /// The marker beside namespace `ns` ("shipcore/" → "shipcore\0store"),
    /// outside every key of the namespace.
    fn marker_of(ns: &str) -> Vec<u8> {
        let mut m = ns.trim_end_matches('/').as_bytes().to_vec();
        m.extend_from_slice(b"\0store");
        m
    }

    /// The client, for what the store does not cover (leases, elections).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Makes every later write of this handle (and its clones) conditional
    /// on `fence`; `None` lifts it. A write refused by the fence is an
    /// [`Error::Unavailable`]: this replica no longer holds the lease.
    pub fn set_fence(&self, fence: Option<Fence>) {
        if let Ok(mut f) = self.fence.write() {
            *f = fence;
        }
    }

    fn fence(&self) -> Option<Fence> {
        self.fence.read().ok().and_then(|f| f.clone())
    }

    fn key(&self, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.ns.len() + key.len());
        k.extend_from_slice(self.ns.as_bytes());
        k.extend_from_slice(key.as_bytes());
        k
    }

    /// The store's key of an etcd key (`None` outside the namespace).
    fn unkey(&self, key: &[u8]) -> Option<String> {
        let k = key.strip_prefix(self.ns.as_bytes())?;
        String::from_utf8(k.to_vec()).ok()
    }

    fn local(&self, etcd_revision: i64) -> u64 {
        u64::try_from(etcd_revision - self.base).unwrap_or(0)
    }

    fn remote(&self, revision: u64) -> i64 {
        self.base
            .saturating_add(i64::try_from(revision).unwrap_or(i64::MAX))
    }

    fn compare(&self, key: &[u8], expect: Expect) -> Option<Compare> {
        match expect {
            Expect::Any => None,
            Expect::Absent | Expect::Revision(0) => {
                Some(Compare::version(key.to_vec(), CompareOp::Equal, 0))
            }
            Expect::Revision(r) => Some(Compare::mod_revision(
                key.to_vec(),
                CompareOp::Equal,
                self.remote(r),
            )),
        }
    }

    /// Runs `ops` as one transaction under their conditions and the fence.
    /// On a failed condition, the first op whose condition fails gives the
    /// conflict (or the fence gives [`Error::Unavailable`]).
    async fn txn(&self, ops: &[(Vec<u8>, Expect, TxnOp)]) -> Result<etcd_client::TxnResponse> {
        let fence = self.fence();
        let mut compares: Vec<Compare> = ops
            .iter()
            .filter_map(|(k, e, _)| self.compare(k, *e))
            .collect();
        if let Some(f) = &fence {
            compares.push(Compare::create_revision(
                f.key.clone(),
                CompareOp::Equal,
                f.revision,
            ));
        }
        let mut reads: Vec<TxnOp> = ops
            .iter()
            .filter(|(_, e, _)| *e != Expect::Any)
            .map(|(k, _, _)| TxnOp::get(k.clone(), Some(GetOptions::new().with_keys_only())))
            .collect();
        if let Some(f) = &fence {
            reads.push(TxnOp::get(
                f.key.clone(),
                Some(GetOptions::new().with_keys_only()),
            ));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then(ops.iter().map(|(_, _, op)| op.clone()).collect::<Vec<_>>())
            .or_else(reads);
        let resp = self
            .client
            .kv_client()
            .txn(txn)
            .await
            .map_err(|e| storage("write", e))?;
        if resp.succeeded() {
            return Ok(resp);
        }
        // Which condition failed: the reads come in the order of the ops
        // that had one, then the fence's.
        let mut found = resp.op_responses().into_iter().map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.mod_revision()),
            _ => None,
        });
        for (key, expect, _) in ops.iter().filter(|(_, e, _)| *e != Expect::Any) {
            let actual = found.next().flatten().map_or(0, |r| self.local(r));
            let name = self.unkey(key).unwrap_or_default();
            expect.check(&name, actual)?;
        }
        if fence.is_some() {
            return Err(Error::Unavailable {
                reason: "this replica no longer leads the cluster (its lease ran out)".into(),
                retry_after: 1,
            });
        }
        Err(storage(
            "write",
            "a transaction failed for no stated reason",
        ))
    }

    fn revision_of(&self, resp: &etcd_client::TxnResponse) -> u64 {
        self.local(resp.header().map_or(self.base, |h| h.revision()))
    }

    /// Reads `[start, end)` in key order (or reversed), at most `limit` keys
    /// (all when `None`), in pages at one revision.
    async fn range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: Option<usize>,
        reverse: bool,
    ) -> Result<Vec<Versioned>> {
        let mut kv = self.client.kv_client();
        let mut out = Vec::new();
        let (mut start, mut end) = (start, end);
        let mut at: Option<i64> = None;
        loop {
            let want = limit.map_or(LIST_PAGE, |l| {
                LIST_PAGE.min(i64::try_from(l - out.len()).unwrap_or(LIST_PAGE))
            });
            let order = if reverse {
                SortOrder::Descend
            } else {
                SortOrder::Ascend
            };
            let mut opts = GetOptions::new()
                .with_range(end.clone())
                .with_limit(want)
                .with_sort(SortTarget::Key, order);
            if let Some(r) = at {
                opts = opts.with_revision(r);
            }
            let resp = kv
                .get(start.clone(), Some(opts))
                .await
                .map_err(|e| storage("read", e))?;
            at = at.or(resp.header().map(|h| h.revision()));
            let kvs = resp.kvs();
            for kv in kvs {
                let Some(key) = self.unkey(kv.key()) else {
                    continue;
                };
                out.push(Versioned {
                    key,
                    value: kv.value().to_vec(),
                    revision: self.local(kv.mod_revision()),
                });
            }
            let full = i64::try_from(kvs.len()).unwrap_or(0) == want;
            let done = limit.is_some_and(|l| out.len() >= l);
            match kvs.last() {
                Some(last) if full && resp.more() && !done => {
                    if reverse {
                        end = last.key().to_vec();
                    } else {
                        start = last.key().to_vec();
                        start.push(0);
                    }
                }
                _ => return Ok(out),
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let resp = self
            .client
            .kv_client()
            .get(self.key(key), None)
            .await
            .map_err(|e| storage("read", e))?;
        Ok(resp.kvs().first().map(|kv| Versioned {
            key: key.to_owned(),
            value: kv.value().to_vec(),
            revision: self.local(kv.mod_revision()),
        }))
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64> {
        check_key(key)?;
        check_value(key, &value)?;
        let k = self.key(key);
        let op = TxnOp::put(k.clone(), value, None);
        let resp = self.txn(&[(k, expect, op)]).await?;
        Ok(self.revision_of(&resp))
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<Option<u64>> {
        check_key(key)?;
        let k = self.key(key);
        let op = TxnOp::delete(k.clone(), None::<DeleteOptions>);
        let resp = self.txn(&[(k, expect, op)]).await?;
        let deleted = resp.op_responses().into_iter().any(|r| match r {
            TxnOpResponse::Delete(d) => d.deleted() > 0,
            _ => false,
        });
        Ok(deleted.then(|| self.revision_of(&resp)))
    }

    async fn batch(&self, ops: Vec<Op>) -> Result<u64> {
        check_batch(&ops)?;
        for op in &ops {
            if let Op::Put { key, value, .. } = op {
                check_value(key, value)?;
            }
        }
        if ops.is_empty() {
            return self.revision().await;
        }
        let ops: Vec<_> = ops
            .into_iter()
            .map(|op| match op {
                Op::Put { key, value, expect } => {
                    let k = self.key(&key);
                    (k.clone(), expect, TxnOp::put(k, value, None))
                }
                Op::Delete { key, expect } => {
                    let k = self.key(&key);
                    (k.clone(), expect, TxnOp::delete(k, None::<DeleteOptions>))
                }
            })
            .collect();
        let resp = self.txn(&ops).await?;
        Ok(self.revision_of(&resp))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Versioned>> {
        let start = self.key(prefix);
        let end = bytes_end(&start);
        self.range(start, end, None, false).await
    }

    async fn page(&self, page: Page<'_>) -> Result<Vec<Versioned>> {
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let first = self.key(page.prefix);
        let end = bytes_end(&first);
        let (start, end) = match (page.after, page.reverse) {
            (Some(a), false) => {
                let mut after = self.key(a);
                after.push(0);
                (first.max(after), end)
            }
            (Some(a), true) => {
                let before = self.key(a);
                (first, end.min(before))
            }
            (None, _) => (first, end),
        };
        if start >= end {
            return Ok(Vec::new());
        }
        self.range(start, end, Some(page.limit), page.reverse).await
    }

    async fn revision(&self) -> Result<u64> {
        let resp = self
            .client
            .kv_client()
            .get(
                Self::marker_of(&self.ns),
                Some(GetOptions::new().with_count_only()),
            )
            .await
            .map_err(|e| storage("read", e))?;
        Ok(self.local(resp.header().map_or(self.base, |h| h.revision())))
    }

    async fn changes(&self, prefix: &str, since: u64) -> Result<ChangeStream> {
        let start = self.remote(since).saturating_add(1);
        let lost = |why: String| Error::WatchLost {
            revision: since,
            reason: why,
        };
        // A watch on a compacted revision is refused only after the server's
        // next sync; a read at that revision says so at once.
        let probe = self
            .client
            .kv_client()
            .get(
                Self::marker_of(&self.ns),
                Some(GetOptions::new().with_count_only().with_revision(start)),
            )
            .await;
        match probe {
            Err(e) if compacted(&e) => {
                return Err(lost(format!("the change log was compacted: {e}")))
            }
            // A revision still to come is fine: the watch waits for it.
            _ => {}
        }
        let key = self.key(prefix);
        let opts = WatchOptions::new()
            .with_range(bytes_end(&key))
            .with_start_revision(start);
        let stream = self
            .client
            .watch_client()
            .watch(key, Some(opts))
            .await
            .map_err(|e| storage("watch", e))?;
        let this = self.clone();
        struct Watching {
            stream: etcd_client::WatchStream,
            ready: std::collections::VecDeque<Change>,
            delivered: u64,
            ended: bool,
        }
        let state = Watching {
            stream,
            ready: Default::default(),
            delivered: since,
            ended: false,
        };
        let changes = futures::stream::unfold(state, move |mut w| {
            let this = this.clone();
            async move {
                if w.ended {
                    return None;
                }
                loop {
                    if let Some(c) = w.ready.pop_front() {
                        // Only when a revision's changes are all out is it
                        // delivered, for a resume point without a gap.
                        if w.ready.front().is_none_or(|n| n.revision != c.revision) {
                            w.delivered = c.revision;
                        }
                        return Some((Ok(c), w));
                    }
                    let lost = |w: &mut Watching, reason: String| {
                        w.ended = true;
                        Error::WatchLost {
                            revision: w.delivered,
                            reason,
                        }
                    };
                    match w.stream.message().await {
                        Ok(Some(resp)) => {
                            if resp.compact_revision() != 0 || resp.canceled() {
                                let why = format!(
                                    "etcd ended the watch (compacted at {}): {}",
                                    resp.compact_revision(),
                                    resp.cancel_reason()
                                );
                                let e = lost(&mut w, why);
                                return Some((Err(e), w));
                            }
                            for ev in resp.events() {
                                let Some(kv) = ev.kv() else { continue };
                                let Some(key) = this.unkey(kv.key()) else {
                                    continue;
                                };
                                let kind = match ev.event_type() {
                                    EventType::Put => ChangeKind::Put {
                                        value: kv.value().to_vec(),
                                    },
                                    EventType::Delete => ChangeKind::Delete,
                                };
                                w.ready.push_back(Change {
                                    revision: this.local(kv.mod_revision()),
                                    key,
                                    kind,
                                });
                            }
                        }
                        Ok(None) => {
                            let e = lost(&mut w, "the etcd watch ended".into());
                            return Some((Err(e), w));
                        }
                        Err(e) => {
                            let e = lost(&mut w, format!("the etcd watch failed: {e}"));
                            return Some((Err(e), w));
                        }
                    }
                }
            }
        });
        Ok(changes.boxed())
    }

    async fn compact(&self, up_to: u64) -> Result<()> {
        let current = self.revision().await?;
        if up_to > current {
            return Err(Error::invalid(
                "revision",
                format!("cannot compact up to {up_to}, beyond the current revision {current}"),
            ));
        }
        // etcd keeps the changes of the revision it compacts at; the store
        // drops those up to and including `up_to`. etcd cannot compact
        // beyond its current revision, so at the current one the last
        // revision's changes stay (a stream from just below it still opens).
        let at = if up_to < current {
            self.remote(up_to) + 1
        } else {
            self.remote(up_to)
        };
        match self.client.kv_client().compact(at, None).await {
            Ok(_) => Ok(()),
            Err(e) if compacted(&e) => Ok(()),
            Err(e) => Err(storage("compact", e)),
        }
    }
}

/// This replica's leadership of the cluster, won by [`EtcdStore::campaign`].
/// While it lasts, every write of the store (and its clones) is fenced by
/// the leader's key. Ends when the lease cannot be renewed in time
/// ([`Leadership::lost`] then resolves, before etcd lets the lease expire
/// and another replica win), or by [`Leadership::resign`].
#[derive(Debug)]
pub struct Leadership {
    store: EtcdStore,
    lease: i64,
    lost: tokio::sync::watch::Receiver<bool>,
    keeper: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Resolves once leadership is lost (the lease could not be renewed).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Whether leadership is lost already.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Gives leadership up: the fence is lifted (call it only once this
    /// replica's leader-only work has stopped) and the lease revoked, so
    /// another replica wins at once instead of after the lease's time.
    pub async fn resign(self) {
        self.keeper.abort();
        self.store.set_fence(None);
        let mut client = self.store.client.clone();
        if let Err(e) = client.lease_revoke(self.lease).await {
            tracing::debug!(error = %e, "lease not revoked; it expires by itself");
        }
    }
}

impl EtcdStore {
    /// Waits until this replica leads the cluster of this namespace, then
    /// fences every write of the store with the leader's key. `id` names the
    /// replica (shown to operators); `ttl` is the lease's time: the longest
    /// a dead leader keeps others waiting.
    pub async fn campaign(&self, id: &str, ttl: Duration) -> Result<Leadership> {
        let secs = i64::try_from(ttl.as_secs().max(2)).unwrap_or(2);
        let mut client = self.client.clone();
        let lease = client
            .lease_grant(secs, None)
            .await
            .map_err(|e| storage("lease", e))?
            .id();
        let (mut keeper, mut answers) = client
            .lease_keep_alive(lease)
            .await
            .map_err(|e| storage("lease", e))?;
        let (tell, lost) = tokio::sync::watch::channel(false);
        let period = Duration::from_millis(u64::try_from(secs).unwrap_or(2) * 1000 / 3);
        // Renewed every third of the lease; given up as lost once two
        // thirds pass without a renewal, before etcd lets the lease go.
        let keeper_task = tokio::spawn(async move {
            let mut last = tokio::time::Instant::now();
            let limit = period * 2;
            loop {
                let renewed = tokio::time::timeout(period, async {
                    keeper.keep_alive().await.ok()?;
                    let answer = answers.message().await.ok()??;
                    (answer.ttl() > 0).then_some(())
                })
                .await;
                if let Ok(Some(())) = renewed {
                    last = tokio::time::Instant::now();
                    tokio::time::sleep(period.saturating_sub(last.elapsed())).await;
                } else if last.elapsed() >= limit {
                    let _ = tell.send(true);
                    return;
                }
            }
        });
        let mut name = self.ns.trim_end_matches('/').as_bytes().to_vec();
        name.extend_from_slice(b"\0leader");
        let leader = loop {
            if *lost.borrow() {
                keeper_task.abort();
                return Err(storage("campaign", "the lease ran out while waiting"));
            }
            // The request times out with the client's timeout while another
            // replica leads; etcd drops the candidacy then, so ask again.
            match client.campaign(name.clone(), id, lease).await {
                Ok(resp) => match resp.leader() {
                    Some(l) => break l.clone(),
                    None => return Err(storage("campaign", "no leader key in the answer")),
                },
                Err(e) => tracing::debug!(error = %e, "still campaigning"),
            }
        };
        self.set_fence(Some(Fence {
            key: leader.key().to_vec(),
            revision: leader.rev(),
        }));
        Ok(Leadership {
            store: self.clone(),
            lease,
            lost,
            keeper: keeper_task,
        })
    }
}
