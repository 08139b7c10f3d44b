//! The facade under abuse, over the whole listener on loopback and fake
//! engines: revocation that takes effect at once, grants within the
//! granter's role, password guessing that is throttled without slowing
//! service keys, slow and long requests cut off, a connection cap, metrics
//! that do not grow with invented methods, event streams that end when
//! their key is revoked.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use shipcore::testing::Fixture;
use shipcore_http::{App, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    f: Fixture,
}

async fn server(limits: Limits) -> Server {
    let f = Fixture::fake(1, 4_000, 8_192, &["app:1"]).await.unwrap();
    let app = App::with_limits(f.cluster.clone(), f.access.clone(), limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(shipcore_http::serve(listener, app, std::future::pending()));
    Server {
        base: format!("http://{addr}"),
        addr,
        client: Client::builder(TokioExecutor::new()).build_http(),
        f,
    }
}

impl Server {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, hyper::HeaderMap) {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        let res = self.client.request(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), headers)
    }

    async fn with_key(&self, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
        let (s, b, _) = self
            .call(method, path, &[("x-service-key", key)], body)
            .await;
        (s, b)
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_is_refused_by_every_request_after_the_delete() {
    let s = server(Limits::default()).await;
    let admin = s.f.admin_key.clone();
    for round in 0..3 {
        let key =
            s.f.access
                .create_service_key("doomed", "user")
                .await
                .unwrap()
                .key;
        // Rendered answers and a known key: the front answers from cache.
        for path in ["/api/cluster/info", "/api/containers"] {
            assert_eq!(s.with_key("GET", path, &key, "").await.0, 200);
        }
        let deleted_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
        let hammer = {
            let (base, key, deleted_at) = (s.base.clone(), key.clone(), deleted_at.clone());
            tokio::spawn(async move {
                let client: Client<HttpConnector, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let mut late_successes = 0;
                for i in 0..300 {
                    let path = if i % 2 == 0 {
                        "/api/cluster/info"
                    } else {
                        "/api/engines"
                    };
                    let started = Instant::now();
                    let req = hyper::Request::get(format!("{base}{path}"))
                        .header("x-service-key", &key)
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let status = client.request(req).await.unwrap().status().as_u16();
                    let after_delete = deleted_at.lock().unwrap().is_some_and(|d| started > d);
                    if after_delete && status != 401 {
                        late_successes += 1;
                    }
                }
                late_successes
            })
        };
        tokio::time::sleep(Duration::from_millis(5 + round * 5)).await;
        let body = serde_json::json!({ "key": key }).to_string();
        assert_eq!(
            s.with_key("DELETE", "/api/servicekeys", &admin, &body)
                .await
                .0,
            204
        );
        *deleted_at.lock().unwrap() = Some(Instant::now());
        assert_eq!(
            hammer.await.unwrap(),
            0,
            "requests made after the DELETE returned succeeded"
        );
        assert_eq!(
            s.with_key("GET", "/api/cluster/info", &key, "").await.0,
            401
        );
    }
}

/// How a login token is ended.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Logout,
    PasswordChange,
    AccountDeleted,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_token_is_refused_by_every_request_after_the_end() {
    let s = server(Limits::default()).await;
    let admin = s.f.admin_key.clone();
    for (round, ending) in [
        Ending::Logout,
        Ending::PasswordChange,
        Ending::AccountDeleted,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("t{round}");
        s.f.access
            .create_account(&name, "pw", "user")
            .await
            .unwrap();
        let login = serde_json::json!({"username": name, "password": "pw"}).to_string();
        let (status, body, _) = s.call("POST", "/auth/login", &[], &login).await;
        assert_eq!(status, 200, "{body}");
        let token: serde_json::Value = serde_json::from_str(&body).unwrap();
        let header = format!("{name}:{}", token["auth_token"].as_str().unwrap());
        // A second token of the account, which only a logout spares.
        let (_, other, _) = s.call("POST", "/auth/login", &[], &login).await;
        let other: serde_json::Value = serde_json::from_str(&other).unwrap();
        let other = format!("{name}:{}", other["auth_token"].as_str().unwrap());
        for path in ["/api/cluster/info", "/api/containers", "/api/engines"] {
            let (status, _, _) = s
                .call("GET", path, &[("x-access-token", &header)], "")
                .await;
            assert_eq!(status, 200, "{path}");
        }
        let ended_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
        let hammer = {
            let (base, header, ended_at) = (s.base.clone(), header.clone(), ended_at.clone());
            tokio::spawn(async move {
                let client: Client<HttpConnector, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let mut late_successes = 0;
                for i in 0..300 {
                    let path = ["/api/cluster/info", "/api/engines", "/api/containers"][i % 3];
                    let started = Instant::now();
                    let req = hyper::Request::get(format!("{base}{path}"))
                        .header("x-access-token", &header)
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let status = client.request(req).await.unwrap().status().as_u16();
                    let after = ended_at.lock().unwrap().is_some_and(|d| started > d);
                    if after && status != 401 {
                        late_successes += 1;
                    }
                }
                late_successes
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let status = match ending {
            Ending::Logout => {
                s.call("POST", "/auth/logout", &[("x-access-token", &header)], "")
                    .await
                    .0
            }
            Ending::PasswordChange => {
                s.call(
                    "POST",
                    "/account/changepassword",
                    &[("x-access-token", &header)],
                    r#"{"password":"new"}"#,
                )
                .await
                .0
            }
            Ending::AccountDeleted => {
                let body = serde_json::json!({ "username": name }).to_string();
                s.with_key("DELETE", "/api/accounts", &admin, &body).await.0
            }
        };
        assert!((200..300).contains(&status), "{ending:?}: {status}");
        *ended_at.lock().unwrap() = Some(Instant::now());
        assert_eq!(
            hammer.await.unwrap(),
            0,
            "{ending:?}: requests made after it returned succeeded"
        );
        let (status, _, _) = s
            .call("GET", "/api/engines", &[("x-access-token", &header)], "")
            .await;
        assert_eq!(status, 401, "{ending:?}");
        let (status, _, _) = s
            .call("GET", "/api/engines", &[("x-access-token", &other)], "")
            .await;
        let want = if matches!(ending, Ending::Logout) {
            200
        } else {
            401
        };
        assert_eq!(status, want, "{ending:?}: the account's other token");
    }
}

#[tokio::test]
async fn failed_logins_count_against_the_limits_of_basic_auth() {
    let s = server(Limits::default()).await;
    s.f.access
        .create_account("guessed", "right", "user")
        .await
        .unwrap();
    let wrong = r#"{"username":"guessed","password":"wrong"}"#;
    let mut statuses = Vec::new();
    for _ in 0..shipcore::access::USERNAME_FAILURES + 1 {
        statuses.push(s.call("POST", "/auth/login", &[], wrong).await.0);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Basic auth for the name is held back as well.
    let (status, _, _) = s
        .call(
            "GET",
            "/api/engines",
            &[("authorization", &basic("guessed", "right"))],
            "",
        )
        .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_key_manager_grants_nothing_beyond_its_own_role() {
    let s = server(Limits::default()).await;
    let admin = s.f.admin_key.clone();
    let role = r#"{"name":"keys","permissions":["servicekeys:rw","accounts:rw"]}"#;
    assert_eq!(s.with_key("POST", "/api/roles", &admin, role).await.0, 204);
    let manager =
        s.f.access
            .create_service_key("m", "keys")
            .await
            .unwrap()
            .key;
    for (path, body) in [
        ("/api/servicekeys", r#"{"description":"x","role":"admin"}"#),
        ("/api/servicekeys", r#"{"description":"x","role":"user"}"#),
        (
            "/api/accounts",
            r#"{"username":"boss","password":"pw-pw-pw","role":{"name":"admin"}}"#,
        ),
    ] {
        let (status, answer) = s.with_key("POST", path, &manager, body).await;
        assert_eq!(status, 403, "{path} {body}: {answer}");
    }
    // Within its own role: fine.
    let (status, answer) = s
        .with_key(
            "POST",
            "/api/servicekeys",
            &manager,
            r#"{"description":"x","role":"keys"}"#,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // A role keys act with is not deleted under them.
    let (status, answer) = s
        .with_key("DELETE", "/api/roles", &admin, r#"{"name":"keys"}"#)
        .await;
    assert_eq!(status, 409, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_throttled_and_keys_keep_working() {
    let s = server(Limits::default()).await;
    let key = s.f.admin_key.clone();
    let mut limited = None;
    for i in 0..60 {
        let auth = basic(&format!("guess{i}"), "wrong");
        let (status, body, headers) = s
            .call("GET", "/api/cluster/info", &[("authorization", &auth)], "")
            .await;
        match status {
            401 => {}
            429 => {
                let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
                assert!(body.contains("too many failed logins"), "{body}");
                limited = Some(i);
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        limited,
        Some(shipcore::access::ADDRESS_FAILURES as usize),
        "refused once the address used its failures"
    );
    // Refused before any password is checked: even the right one, from
    // this address, until the window ends.
    let auth = basic("admin", shipcore::testing::ADMIN_PASSWORD);
    let (status, _, _) = s
        .call("GET", "/api/cluster/info", &[("authorization", &auth)], "")
        .await;
    assert_eq!(status, 429);
    // A service key is another matter.
    let started = Instant::now();
    assert_eq!(
        s.with_key("GET", "/api/cluster/info", &key, "").await.0,
        200
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_body_that_does_not_arrive_and_a_request_that_takes_too_long_are_cut_off() {
    let limits = Limits {
        body_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let s = server(limits).await;
    // Headers promise 100 bytes; 10 come.
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/containers HTTP/1.1\r\nhost: x\r\nx-service-key: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":\"a",
        s.f.admin_key
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut answer))
        .await
        .expect("an answer before the client sends the rest")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A deploy whose engine takes longer than the request may: cut off,
    // and undone.
    s.f.engine("e0")
        .unwrap()
        .delay("create", Duration::from_secs(2));
    let deploy = r#"{"name":"app:1","cpus":0.1,"memory":16}"#;
    let (status, body) = s
        .with_key("POST", "/api/containers", &s.f.admin_key, deploy)
        .await;
    assert_eq!(status, 503, "{body}");
    for _ in 0..100 {
        if s.f.cluster.stats().await.containers_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info = s.f.cluster.info().await;
    assert_eq!((info.containers, info.reserved_memory), (0, 0));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn() {
    let s = server(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    // Two connections held open.
    let held: Vec<tokio::net::TcpStream> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(s.addr)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let third = s.with_key("GET", "/api/cluster/info", &s.f.admin_key, "");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third)
            .await
            .is_err(),
        "a third connection is not served while two are open"
    );
    drop(held);
    let (status, _) = tokio::time::timeout(
        Duration::from_secs(5),
        s.with_key("GET", "/api/cluster/info", &s.f.admin_key, ""),
    )
    .await
    .expect("served once a connection ended");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn invented_methods_are_counted_as_one() {
    let s = server(Limits::default()).await;
    for m in ["BREW", "WHEN", "POKE"] {
        let (status, _, _) = s.call(m, "/api/containers", &[], "").await;
        assert!(status >= 400);
    }
    let (_, metrics) = s.with_key("GET", "/metrics", &s.f.admin_key, "").await;
    assert!(metrics.contains(r#"method="OTHER""#), "{metrics}");
    for m in ["BREW", "WHEN", "POKE"] {
        assert!(!metrics.contains(m), "{metrics}");
    }
}

#[tokio::test]
async fn an_event_stream_ends_when_its_key_is_revoked() {
    let s = server(Limits::default()).await;
    let key =
        s.f.access
            .create_service_key("watch", "user")
            .await
            .unwrap()
            .key;
    let req = hyper::Request::get(format!("{}/api/events?follow=true", s.base))
        .header("x-service-key", &key)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = s.client.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    s.f.access.delete_service_key(&key).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream went on after its key was deleted"
    );
}

#[tokio::test]
async fn every_documented_operation_is_served_and_documents_what_it_answers() {
    let s = server(Limits::default()).await;
    let (status, doc) = s
        .with_key("GET", "/api/openapi.json", &s.f.admin_key, "")
        .await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let mut operations = 0;
    let mut failures = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let path = template
                .replace("{id}", "x")
                .replace("{name}", "x")
                .replace("{username}", "x")
                .replace("{key}", "x");
            let body = if op.get("requestBody").is_some() {
                "{}"
            } else {
                ""
            };
            let (status, answer) = s
                .with_key(&method.to_uppercase(), &path, &s.f.admin_key, body)
                .await;
            // Served: not the fallback, and the method is known.
            if answer.contains("no such endpoint") || status == 405 {
                failures.push(format!("{method} {template} is documented but not served"));
            }
            // And what it answered is documented.
            if op["responses"].get(status.to_string()).is_none() {
                failures.push(format!(
                    "{method} {template} answered {status}, undocumented: {answer}"
                ));
            }
        }
    }
    assert!(operations >= 33, "{operations}");
    let (status, answer) = s.with_key("GET", "/api/nowhere", &s.f.admin_key, "").await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("no such endpoint"));
    // The follow answer is documented as a stream.
    let events = &doc["paths"]["/api/events"]["get"]["responses"]["200"]["content"];
    assert!(events.get("text/event-stream").is_some(), "{events}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_webhook_key_is_checked_before_its_body_is_read() {
    let s = server(Limits {
        body_timeout: Duration::from_secs(20),
        ..Limits::default()
    })
    .await;
    // A body that never finishes: a wrong key is refused at once anyway.
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(
        b"POST /hub/webhook/wrong-key HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"rep",
    )
    .await
    .unwrap();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), conn.read(&mut answer))
        .await
        .expect("refused before the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}
