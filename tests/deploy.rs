//! deploy/ as an operator runs it. A real nats-server (one node, then a 3-node JetStream
//! cluster) started with deploy/nats's own configuration and users; `csp deploy streams` as the
//! administrator; the four services as four `csp serve` processes, each with its own NATS user;
//! the whole demo against them. Then every user × subject checked against the design and
//! printed into RELIABILITY.md, and, on the cluster, the CSP_EVENTS stream's leader node killed
//! mid-story with every cross-service invariant holding at the end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::{ConnectOptions, Event, ServerError};
use csp_testkit::e2e::{admin_token, dev_issuer, status, Csp};
use csp_testkit::{NatsCluster, NatsServer, NatsServerBuilder, TempDir};
use futures_util::StreamExt as _;
use serde_json::Value;

/// Everyone deploy/nats/users.conf knows, the administrator first.
const USERS: [&str; 6] = [
    "admin",
    "ordering",
    "entitlement",
    "billing",
    "audit",
    "client",
];
const SERVICES: [&str; 4] = ["ordering", "entitlement", "billing", "audit"];
/// Where the services' manual clocks start: the demo's own start.
const START: &str = "2026-03-02T09:00:00Z";

/// Test passwords, given to nats-server through the environment as in production.
fn password(user: &str) -> String {
    format!("{user}-test-7f3a9c")
}

fn deploy_nats() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nats")
}

/// A server (or node) of deploy/nats's `file`, with every user's password in its environment.
fn with_users(file: &str) -> NatsServerBuilder {
    let mut builder = NatsServer::builder()
        .deploy_config(deploy_nats(), file)
        .probe_user("admin", &password("admin"));
    for user in USERS {
        builder = builder.env(
            &format!("CSP_NATS_{}_PASSWORD", user.to_uppercase()),
            &password(user),
        );
    }
    builder
}

/// `urls` (comma-separated) with `user`'s credentials, as a service's CSP_NATS_URL carries them.
fn as_user(user: &str, urls: &str) -> String {
    urls.split(',')
        .map(|u| u.replacen("nats://", &format!("nats://{user}:{}@", password(user)), 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// A connection as `user`, with the inbox prefix csp gives it, whose server errors (permission
/// violations) are collected.
async fn connect_as(user: &str, url: &str) -> (async_nats::Client, Arc<Mutex<Vec<String>>>) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&errors);
    let mut options = ConnectOptions::with_user_and_password(user.into(), password(user))
        .event_callback(move |event| {
            let seen = Arc::clone(&seen);
            async move {
                if let Event::ServerError(ServerError::Other(e)) = event {
                    seen.lock().unwrap().push(e);
                }
            }
        });
    if user != "admin" {
        options = options.custom_inbox_prefix(format!("_INBOX_{user}"));
    }
    let servers: Vec<&str> = url.split(',').collect();
    let client = options.connect(servers).await.expect("connecting");
    (client, errors)
}

fn csp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csp"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running csp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The four services, each a `csp serve` process on its own NATS user and data directory,
/// trusting the development issuer the demo signs with.
struct Installation {
    root: TempDir,
    secrets: TempDir,
    services: Vec<Csp>,
}

impl Installation {
    async fn start(urls: &str, probe: &async_nats::Client) -> Installation {
        let root = TempDir::new("csp-deploy").unwrap();
        let secrets = TempDir::new("csp-deploy-secrets").unwrap();
        let dev_key = root.path().join("dev-issuer.key");
        let internal = secrets.path().join("internal.key");
        let audit_key = secrets.path().join("audit.key");
        let mut services = Vec::new();
        for service in SERVICES {
            let mut flags = vec![
                "--dev-key".to_string(),
                dev_key.display().to_string(),
                "--internal-key".into(),
                internal.display().to_string(),
                "--audit-key".into(),
                audit_key.display().to_string(),
                "--manual-clock".into(),
                START.into(),
            ];
            if service == "entitlement" {
                flags.extend(["--download-addr".into(), "127.0.0.1:0".into()]);
            }
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let data = root.path().join(service);
            services
                .push(Csp::serve_as(&as_user(service, urls), probe, service, &data, &flags).await);
        }
        Installation {
            root,
            secrets,
            services,
        }
    }

    fn dir(&self) -> String {
        self.root.path().display().to_string()
    }

    /// The demo, run as the platform operator's NATS user against the running services.
    fn demo(&self, urls: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_csp"))
            .args([
                "demo",
                "--nats",
                &as_user("admin", urls),
                "--data",
                &self.dir(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running the demo")
    }

    /// Each service's live state digest, then each stopped and its log replayed by `csp
    /// replay`: the same digest; and the audit log verified against every producer's log.
    async fn digests_equal_replays_and_audit_verifies(&mut self, admin: &async_nats::Client) {
        let operator = admin_token(&dev_issuer(self.root.path()));
        let mut live = Vec::new();
        for service in SERVICES {
            // Caught up: the digest is read once nothing is still flowing.
            let mut last = Value::Null;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let now = status(admin, service, &operator, true).await;
                if now["state"]["digest"] == last["state"]["digest"]
                    && now["last_seq"] == last["last_seq"]
                {
                    break;
                }
                assert!(Instant::now() < deadline, "{service} never settled");
                last = now;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            live.push((
                service,
                last["state"]["digest"].as_str().unwrap().to_string(),
            ));
        }
        for service in &mut self.services {
            assert!(
                service.terminate().success(),
                "a service did not stop cleanly"
            );
        }
        let dir = self.dir();
        for (service, digest) in live {
            let out = csp(&["replay", service, "--json", "--data", &dir]);
            assert!(out.status.success(), "{service}: {}", text(&out.stderr));
            let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                replayed["state"]["digest"].as_str(),
                Some(digest.as_str()),
                "{service}'s replay differs from its live state"
            );
        }
        let key = self.secrets.path().join("audit.key").display().to_string();
        let out = csp(&["audit", "verify", "--data", &dir, "--audit-key", &key]);
        let report = text(&out.stdout);
        assert!(out.status.success(), "{report}{}", text(&out.stderr));
    }
}

/// What the demo must have printed: the story told to its end with the right figures.
fn assert_whole_story(story: &str) {
    for step in [
        "its download link: 410 link_revoked",
        "platform support approves 750.00 USD",
        "total  9555.45 USD",
        "total  3321.00 AUD",
        "audit holds all",
        "the partner's activity log",
    ] {
        assert!(story.contains(step), "the story lacks {step:?}:\n{story}");
    }
}

/// One column of the permission matrix: publish on or subscribe to a subject.
#[derive(Clone, Copy)]
enum Act {
    Publish(&'static str, &'static str),
    Subscribe(&'static str, &'static str),
}

impl Act {
    fn label(self) -> String {
        match self {
            Act::Publish(pattern, _) => format!("pub `{pattern}`"),
            Act::Subscribe(pattern, _) => format!("sub `{pattern}`"),
        }
    }
}

/// The columns: each with the concrete subject a probe uses.
const ACTS: [Act; 16] = [
    Act::Publish("csp.cmd.>", "csp.cmd.ordering.matrix_probe"),
    Act::Publish("csp.evt.ordering.>", "csp.evt.ordering.matrix_probe._._"),
    Act::Publish("csp.hb.ordering", "csp.hb.ordering"),
    Act::Publish(
        "csp.evt.entitlement.>",
        "csp.evt.entitlement.matrix_probe._._",
    ),
    Act::Publish("csp.hb.entitlement", "csp.hb.entitlement"),
    Act::Publish("csp.evt.billing.>", "csp.evt.billing.matrix_probe._._"),
    Act::Publish("csp.hb.billing", "csp.hb.billing"),
    Act::Publish("csp.evt.audit.>", "csp.evt.audit.matrix_probe._._"),
    Act::Publish("csp.hb.audit", "csp.hb.audit"),
    Act::Publish("csp.audit.checkpoint", "csp.audit.checkpoint"),
    Act::Publish("$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.PURGE.CSP_EVENTS"),
    Act::Publish(
        "$JS.API.STREAM.DELETE.>",
        "$JS.API.STREAM.DELETE.CSP_EVENTS",
    ),
    Act::Subscribe(">", "csp.matrix.probe"),
    Act::Subscribe("_INBOX.>", "_INBOX.matrix.probe"),
    Act::Subscribe("csp.cmd.>", "csp.cmd.matrix.probe"),
    Act::Subscribe("_INBOX_client.>", "_INBOX_client.matrix.probe"),
];

/// The design, one row per user, one cell per column of [`ACTS`]: `ok` allowed, `-` refused.
/// Commands only for the command-API client (and the administrator); only its own events and
/// heartbeat for each service (audit also its checkpoints); no stream purge or delete, no
/// wildcard subscription and nobody else's inbox for anyone but the administrator.
const DESIGN: &str = "
    admin        ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok
    ordering     -  ok ok -  -  -  -  -  -  -  -  -  -  -  -  -
    entitlement  -  -  -  ok ok -  -  -  -  -  -  -  -  -  -  -
    billing      -  -  -  -  -  ok ok -  -  -  -  -  -  -  -  -
    audit        -  -  -  -  -  -  -  ok ok ok -  -  -  -  -  -
    client       ok -  -  -  -  -  -  -  -  -  -  -  -  -  -  ok
";

/// Whether `user` may do `act`: allowed if an observer (the administrator) sees the probe,
/// refused if the server answers with a permissions violation naming the subject; anything
/// else within 10 s fails the test.
async fn try_act(user: &str, act: Act, url: &str, observer: &async_nats::Client) -> bool {
    let (client, errors) = connect_as(user, url).await;
    let refused = |subject: &str| {
        errors
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.to_lowercase().contains("permissions violation") && e.contains(subject))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let allowed = match act {
        Act::Publish(_, subject) => {
            let mut watch = observer.subscribe(subject.to_string()).await.unwrap();
            observer.flush().await.unwrap();
            loop {
                client
                    .publish(subject.to_string(), "matrix probe".into())
                    .await
                    .unwrap();
                client.flush().await.unwrap();
                if let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_millis(100), watch.next()).await
                {
                    break true;
                }
                if refused(subject) {
                    break false;
                }
                assert!(
                    Instant::now() < deadline,
                    "{user} publishing on {subject}: no answer"
                );
            }
        }
        Act::Subscribe(pattern, probe) => {
            let mut sub = client.subscribe(pattern.to_string()).await.unwrap();
            client.flush().await.unwrap();
            loop {
                observer
                    .publish(probe.to_string(), "matrix probe".into())
                    .await
                    .unwrap();
                observer.flush().await.unwrap();
                if let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_millis(100), sub.next()).await
                {
                    break true;
                }
                if refused(pattern) {
                    break false;
                }
                assert!(
                    Instant::now() < deadline,
                    "{user} subscribing to {pattern}: no answer"
                );
            }
        }
    };
    drop(client);
    allowed
}

/// The services refuse to start without the deploy step, and say which; `csp deploy streams`
/// creates the streams (and a second run changes nothing); the four services work on their
/// own users through the whole demo; the permission matrix holds cell by cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_nats_user_may_do_what_the_design_says_and_nothing_more() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(420), async {
        let nats = with_users("single-node.conf").start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let url = nats.url();
        let (admin, _) = connect_as("admin", &url).await;

        // No streams yet, and a service's user may not create them: one line naming the step.
        let scratch = TempDir::new("csp-deploy-early").unwrap();
        let data = scratch.path().join("ordering").display().to_string();
        let out = csp(&[
            "serve",
            "ordering",
            "--nats",
            &as_user("ordering", &url),
            "--data",
            &data,
        ]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("csp deploy streams"), "{stderr}");
        assert!(
            !stderr.contains(&password("ordering")),
            "a password in an error: {stderr}"
        );

        let out = csp(&["deploy", "streams", "--nats", &as_user("admin", &url)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("CSP_EVENTS: created"),
            "{}",
            text(&out.stdout)
        );
        let out = csp(&["deploy", "streams", "--nats", &as_user("admin", &url)]);
        assert!(
            text(&out.stdout).contains("CSP_EVENTS: unchanged"),
            "{}",
            text(&out.stdout)
        );

        let mut installation = Installation::start(&url, &admin).await;
        let demo = installation.demo(&url).wait_with_output().unwrap();
        let story = text(&demo.stdout);
        assert!(demo.status.success(), "{story}\n{}", text(&demo.stderr));
        assert_whole_story(&story);
        installation
            .digests_equal_replays_and_audit_verifies(&admin)
            .await;

        // The matrix, with the services stopped (probes land in the streams); the
        // administrator last, whose DELETE really deletes CSP_EVENTS.
        let mut observed = String::new();
        let mut wrong = Vec::new();
        let design: Vec<Vec<&str>> = DESIGN
            .lines()
            .map(str::split_whitespace)
            .map(Iterator::collect)
            .filter(|r: &Vec<&str>| !r.is_empty())
            .collect();
        let mut rows = Vec::new();
        for row in design.iter().skip(1).chain(design.iter().take(1)) {
            let user = row[0];
            let mut cells = Vec::new();
            for (act, expected) in ACTS.iter().zip(&row[1..]) {
                let allowed = try_act(user, *act, &url, &admin).await;
                let got = if allowed { "ok" } else { "-" };
                if got != *expected {
                    wrong.push(format!(
                        "{user} {}: expected {expected}, got {got}",
                        act.label()
                    ));
                }
                cells.push(got);
            }
            rows.push((user, cells));
        }
        rows.rotate_right(1);
        assert!(
            wrong.is_empty(),
            "the NATS permissions differ from the design:\n{}",
            wrong.join("\n")
        );

        let _ = writeln!(
            observed,
            "### NATS users and permissions (deploy/nats/users.conf)\n"
        );
        let _ = writeln!(
            observed,
            "Checked by `tests/deploy.rs` against a real nats-server started with \
             `deploy/nats/single-node.conf` and its `users.conf`: each user connects with its own \
             password and inbox prefix and tries each action; `ok` means an administrator's \
             subscription saw the message (publish) or the user's subscription received one \
             (subscribe), `-` that the server refused it with a permissions violation. The same \
             run served the whole demo with each service on its own user.\n"
        );
        let _ = writeln!(
            observed,
            "| user | {} |",
            ACTS.iter()
                .map(|a| a.label())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(observed, "|---|{}", "---|".repeat(ACTS.len()));
        for (user, cells) in &rows {
            let _ = writeln!(observed, "| {user} | {} |", cells.join(" | "));
        }
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("RELIABILITY.md");
        csp_testkit::matrix::write_section(&doc, "nats-permissions", &observed).unwrap();
    })
    .await
}

/// Issue 16's cluster story: a 3-node JetStream cluster from deploy/nats/cluster, the streams
/// replicated 3 times, the four services as `csp serve` processes on their own users, the demo
/// against them — and the node leading CSP_EVENTS killed mid-story (day 3: the cancellation,
/// its revocation, refund and audit record still to come). The demo completes with every
/// outcome it checks: one entitlement per order line and its charges, the cancellation's keys
/// revoked and exactly one refund or credit each, every producer's event in the audit log
/// once; then each service's live digest equals its replay and the audit log verifies
/// against every producer's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_completes_when_the_events_stream_leader_dies_mid_way() {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(600), async {
        let cluster = NatsCluster::start(with_users("cluster/node-1.conf"), 3).unwrap();
        cluster.wait_for_jetstream().await.unwrap();
        let urls = cluster.urls();
        let (admin, _) = connect_as("admin", &urls).await;
        let out = csp(&[
            "deploy",
            "streams",
            "--replicas",
            "3",
            "--nats",
            &as_user("admin", &urls),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("CSP_EVENTS: created (3 replicas)"),
            "{}",
            text(&out.stdout)
        );

        let mut installation = Installation::start(&urls, &admin).await;
        let mut demo = installation.demo(&urls);
        let stdout = demo.stdout.take().unwrap();
        let (day3_tx, day3_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut story = String::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.unwrap_or_default();
                if line.starts_with("Day 3 ") {
                    let _ = day3_tx.send(());
                }
                story.push_str(&line);
                story.push('\n');
            }
            story
        });
        let reached =
            tokio::task::spawn_blocking(move || day3_rx.recv_timeout(Duration::from_secs(120)))
                .await
                .unwrap();
        if reached.is_err() {
            let _ = demo.kill();
            let out = demo.wait_with_output().unwrap();
            panic!(
                "the demo never reached day 3:\n{}\n{}",
                reader.join().unwrap(),
                text(&out.stderr)
            );
        }
        let leader = cluster.stream_leader("CSP_EVENTS").await.unwrap();
        cluster.nodes()[leader].kill().unwrap();
        eprintln!(
            "killed node {} (the CSP_EVENTS leader) at day 3",
            leader + 1
        );

        let status = tokio::task::spawn_blocking(move || demo.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let story = reader.join().unwrap();
        assert!(status.status.success(), "{story}\n{}", text(&status.stderr));
        assert_whole_story(&story);
        let now = cluster.stream_leader("CSP_EVENTS").await.unwrap();
        assert_ne!(now, leader, "CSP_EVENTS kept its dead leader");
        eprintln!(
            "the story completed; CSP_EVENTS now led by node {}",
            now + 1
        );
        installation
            .digests_equal_replays_and_audit_verifies(&admin)
            .await;
    })
    .await
}
