//! Anonymous load: 30 s of basic-auth attempts with random credentials, as
//! fast as one wrk thread sends them, while a second client with a service
//! key measures `GET /api/cluster/info`. Its p99 is compared with the
//! p99 of the same client without the load (the target: within 5×), and
//! the cluster's reconcile loop (every second) is counted through it.
//!
//! Run: `cargo bench --bench auth_load` (installs `wrk` when missing).

use std::process::Command;
use std::time::Duration;

use shipcore::cluster::ClusterOptions;
use shipcore::engine::fake::FakeConnector;
use shipcore::testing::Fixture;
use shipcore_workspace::provision;
use shipcore_workspace::wrk::{field, p99_ms};

/// Random usernames and passwords in every request, base64 in Lua.
const GUESSES: &str = r#"
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  return ((s:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#s % 3 + 1])
end
local function word(n)
  local w = ""
  for i = 1, n do local k = math.random(1, #chars); w = w .. chars:sub(k, k) end
  return w
end
request = function()
  local auth = "Basic " .. base64(word(8) .. ":" .. word(12))
  return wrk.format("GET", "/api/cluster/info", { ["Authorization"] = auth })
end
"#;

/// Runs wrk; returns its output.
fn wrk(args: &[&str]) -> String {
    let out = Command::new("wrk")
        .args(args)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn main() {
    provision::needed("wrk", provision::wrk());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (base, key, fixture, _loops) = rt.block_on(async {
        let opts = ClusterOptions {
            reconcile_interval: Duration::from_secs(1),
            ..ClusterOptions::default()
        };
        let fakes = std::sync::Arc::new(FakeConnector::new(64_000, 262_144, &["app:1"]));
        let f = Fixture::over(fakes, opts).await.expect("fixture");
        for i in 0..20 {
            f.cluster
                .add_engine(shipcore::model::EngineRecord::new(
                    &format!("e{i}"),
                    "unix:///fake.sock",
                ))
                .await
                .expect("engine");
        }
        let loops = f.cluster.start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = shipcore_http::App::new(f.cluster.clone(), f.access.clone());
        tokio::spawn(shipcore_http::serve(listener, app, std::future::pending()));
        (base, f.admin_key.clone(), f, loops)
    });
    let url = format!("{base}/api/cluster/info");
    let key_header = format!("X-Service-Key: {key}");
    let measure = |secs: &str| {
        wrk(&[
            "-t1",
            "-c4",
            "-d",
            secs,
            "--latency",
            "-H",
            &key_header,
            &url,
        ])
    };
    // Warm-up, then the unloaded p99.
    measure("3s");
    let quiet = measure("10s");
    let script = std::env::temp_dir().join(format!("shipcore-guesses-{}.lua", std::process::id()));
    std::fs::write(&script, GUESSES).expect("the wrk script");
    let rounds_before = rt.block_on(fixture.cluster.stats()).reconcile_rounds;
    let attack = {
        let (url, script) = (url.clone(), script.clone());
        std::thread::spawn(move || {
            wrk(&[
                "-t1",
                "-c32",
                "-d30s",
                "-s",
                script.to_str().unwrap_or_default(),
                &url,
            ])
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let loaded = measure("29s");
    let attack = attack.join().expect("the attack");
    let rounds = rt.block_on(fixture.cluster.stats()).reconcile_rounds - rounds_before;
    let _ = std::fs::remove_file(&script);

    let (quiet_p99, loaded_p99) = (p99_ms(&quiet), p99_ms(&loaded));
    println!(
        "anonymous basic-auth attempts, wrk -t1 -c32 -d30s with random credentials: {} requests/s ({} non-2xx: 401/429/503)",
        field(&attack, "Requests/sec:"),
        field(&attack, "Non-2xx or 3xx responses:")
    );
    println!(
        "service-key client, wrk -t1 -c4, GET /api/cluster/info: unloaded p99 {quiet_p99:.2} ms ({} req/s), under the attempts p99 {loaded_p99:.2} ms ({} req/s): {:.1}× (target ≤ 5×)",
        field(&quiet, "Requests/sec:"),
        field(&loaded, "Requests/sec:"),
        loaded_p99 / quiet_p99
    );
    println!("reconcile rounds during the 30 s (every 1 s): {rounds}");
}
