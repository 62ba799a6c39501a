//! The end-to-end suites' shared pieces, written once for every service's suite: the real
//! `csp` binary as a child process, a NATS client speaking hand-written JSON (as an outside
//! system does), tokens from the development issuer the services trust, and the admin status
//! endpoint.
//!
//! End-to-end tests spawn servers and processes: they take [`serial`] so they run one at a time,
//! and they wait on progress (a PING answered, a position reached), never on fixed sleeps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;
use async_nats::Client;
use bytes::Bytes;
use csp_auth::DevIssuer;
use csp_events::{ActorKind, Role, TenantId};
use serde_json::Value;

/// The partner every end-to-end test acts as.
pub const PARTNER: &str = "0190d7a1-0000-7000-8000-00000000aa01";
/// The customer it serves.
pub const CUSTOMER: &str = "0190d7a1-0000-7000-8000-00000000cc01";

/// An async mutex: each test runs on its own runtime and holds this across its awaits.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One end-to-end test at a time.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// The `csp` binary of the build running the test: `$CSP_BIN`, else `csp` in the target
/// directory the test executable runs from (`target/<profile>/deps/<test>` →
/// `target/<profile>/csp`; cargo builds a package's binaries before its integration tests).
pub fn csp_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CSP_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a test executable lives in target/<profile>/deps");
    let bin = profile.join("csp");
    assert!(
        bin.exists(),
        "{} does not exist: run the end-to-end tests through cargo test in the csp package, or set CSP_BIN",
        bin.display()
    );
    bin
}

/// A `csp serve <service>` child process.
pub struct Csp {
    child: Option<Child>,
    /// Its data directory (the log under `log/`).
    pub data: PathBuf,
    args: Vec<String>,
    /// Extra environment for the next start (e.g. `CSP_CRASH_AT`).
    pub env: Vec<(String, String)>,
}

impl Csp {
    /// Starts `csp serve <service> --nats <url> --data <data> <extra...>` and waits until it
    /// answers `$SRV.PING`.
    pub async fn serve(nats: &str, service: &str, data: &Path, extra: &[&str]) -> Csp {
        let mut csp = Csp::serve_args(nats, service, data, extra);
        csp.start(nats, service).await;
        csp
    }

    fn serve_args(nats: &str, service: &str, data: &Path, extra: &[&str]) -> Csp {
        let mut args = vec![
            "serve".to_string(),
            service.to_string(),
            "--nats".into(),
            nats.to_string(),
            "--data".into(),
            data.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Csp {
            child: None,
            data: data.to_path_buf(),
            args,
            env: Vec::new(),
        }
    }

    /// [`Csp::serve`] on a server that requires users: `nats` (given to the process) carries
    /// the service's own user, and `probe`, a client connected as a user that may ask
    /// `$SRV.PING`, waits for it to answer.
    pub async fn serve_as(
        nats: &str,
        probe: &async_nats::Client,
        service: &str,
        data: &Path,
        extra: &[&str],
    ) -> Csp {
        let mut csp = Csp::serve_args(nats, service, data, extra);
        csp.spawn();
        csp.wait_until_served(probe, service).await;
        csp
    }

    async fn start(&mut self, nats: &str, service: &str) {
        self.spawn();
        let client = async_nats::connect(nats).await.expect("connect");
        self.wait_until_served(&client, service).await;
    }

    async fn wait_until_served(&mut self, client: &async_nats::Client, service: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = tokio::time::timeout(
                Duration::from_millis(500),
                client.request(format!("$SRV.PING.{service}"), Bytes::new()),
            )
            .await;
            if let Ok(Ok(_)) = r {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("csp serve exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "csp serve did not answer PING in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Restarts with the same arguments, plus or replacing `--manual-clock`.
    pub async fn restart(&mut self, nats: &str, service: &str, manual_clock: Option<&str>) {
        if let Some(t) = manual_clock {
            if let Some(i) = self.args.iter().position(|a| a == "--manual-clock") {
                self.args[i + 1] = t.to_string();
            } else {
                self.args.push("--manual-clock".into());
                self.args.push(t.to_string());
            }
        }
        self.start(nats, service).await;
    }

    /// Whether the process has exited (e.g. at a crash point), reaping it if so.
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) | None => {
                self.child = None;
                true
            }
            _ => false,
        }
    }

    /// Starts again with the same arguments (after a kill or a crash).
    pub async fn start_again(&mut self, nats: &str, service: &str) {
        self.kill();
        self.start(nats, service).await;
    }

    /// Starts again without waiting to be answered: for a process armed to crash, which may
    /// die before it ever answers.
    pub fn spawn_again(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = Command::new(csp_binary())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning csp");
        self.child = Some(child);
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Waits, `within` at most, for the process to exit by itself; its status, or `None` if it
    /// is still running (it is then left running).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait().expect("wait")
    }

    /// Sends SIGKILL and waits for the exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.data.join("log")
    }
}

impl Drop for Csp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the services of one test share: a directory, the development and internal issuers'
/// key files (`keys`: the flags that name them, for `Csp::serve`'s `extra`), and tokens from
/// the development issuer: `admin` for the admin endpoints, `agent` a partner `admin_agent` of
/// [`PARTNER`].
pub struct Keys {
    /// The directory (removed on drop).
    pub root: TempDir,
    /// `--dev-key <file> --internal-key <file>`.
    pub keys: Vec<String>,
    /// A token for the admin endpoints.
    pub admin: String,
    /// A partner `admin_agent`'s token.
    pub agent: String,
}

impl Keys {
    /// Fresh keys in a new temporary directory named after `prefix`.
    pub fn new(prefix: &str) -> Keys {
        let root = TempDir::new(prefix).expect("a temporary directory");
        let keys = vec![
            "--dev-key".to_string(),
            root.path().join("dev.key").display().to_string(),
            "--internal-key".to_string(),
            root.path().join("internal.key").display().to_string(),
        ];
        let issuer = DevIssuer::load_or_create(root.path().join("dev.key")).expect("dev issuer");
        Keys {
            admin: admin_token(&issuer),
            agent: partner_token(
                &issuer,
                PARTNER.parse().expect("a tenant id"),
                Role::AdminAgent,
            ),
            root,
            keys,
        }
    }
}

/// The development issuer the service in `data` trusts (same key file).
pub fn dev_issuer(data: &Path) -> DevIssuer {
    std::fs::create_dir_all(data).expect("data dir");
    DevIssuer::load_or_create(data.join("dev-issuer.key")).expect("dev issuer")
}

/// Wall-clock seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A partner token.
pub fn partner_token(issuer: &DevIssuer, partner: TenantId, role: Role) -> String {
    issuer.mint_for(
        ActorKind::Partner,
        partner,
        "agent@partner.example",
        &[role],
        3600,
        now_secs(),
    )
}

/// A platform `operator`'s token: what the admin endpoints (status, clock) take.
pub fn admin_token(issuer: &DevIssuer) -> String {
    issuer.mint_for(
        ActorKind::Platform,
        TenantId(uuid::Uuid::nil()),
        "ops@csp-test",
        &[Role::Operator],
        3600,
        now_secs(),
    )
}

/// Sends `body` (raw bytes, hand-written JSON) on `subject` with an optional token and returns
/// the reply parsed as JSON.
pub async fn send(client: &Client, subject: &str, token: Option<&str>, body: &[u8]) -> Value {
    let reply = send_raw(client, subject, token, body).await;
    serde_json::from_slice(&reply)
        .unwrap_or_else(|e| panic!("reply on {subject} is not JSON ({e}): {reply:?}"))
}

/// Sends `body` as `token`'s actor; the reply, parsed (a test's JSON request, as an outside
/// system writes it).
pub async fn request(client: &Client, subject: &str, token: &str, body: &Value) -> Value {
    send(client, subject, Some(token), body.to_string().as_bytes()).await
}

/// [`request`] for a step the test expects to succeed: its `result`.
pub async fn ok(client: &Client, subject: &str, token: &str, body: Value) -> Value {
    let reply = request(client, subject, token, &body).await;
    assert_eq!(code(&reply), "ok", "{subject}: {reply}");
    reply["result"].clone()
}

/// Like [`send`], but `None` where a test under faults expects silence: no reply within two
/// seconds (the service was killed mid-request), or one that is not JSON.
pub async fn try_send(client: &Client, subject: &str, token: &str, body: &[u8]) -> Option<Value> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Authorization", format!("Bearer {token}").as_str());
    let request = async_nats::Request::new()
        .payload(Bytes::copy_from_slice(body))
        .headers(headers)
        .timeout(Some(Duration::from_secs(2)));
    let reply = client
        .send_request(subject.to_string(), request)
        .await
        .ok()?;
    serde_json::from_slice(&reply.payload).ok()
}

/// Like [`send`], the reply's bytes as they came.
pub async fn send_raw(client: &Client, subject: &str, token: Option<&str>, body: &[u8]) -> Bytes {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(t) = token {
        headers.insert("Authorization", format!("Bearer {t}").as_str());
    }
    let request = async_nats::Request::new()
        .payload(Bytes::copy_from_slice(body))
        .headers(headers)
        .timeout(Some(Duration::from_secs(10)));
    client
        .send_request(subject.to_string(), request)
        .await
        .unwrap_or_else(|e| panic!("request on {subject}: {e}"))
        .payload
}

/// Opens the test customer's counter on `service` (`counter`, `counter-b`) and checks it worked.
pub async fn open_counter(client: &Client, service: &str, agent: &str, limit: u64, hours: u32) {
    let body = format!(
        r#"{{"request_id":"o","customer":"{CUSTOMER}","limit":{limit},"expires_in_hours":{hours}}}"#
    );
    let reply = send(
        client,
        &format!("csp.cmd.{service}.open_counter"),
        Some(agent),
        body.as_bytes(),
    )
    .await;
    assert_eq!(code(&reply), "ok", "{reply}");
}

/// The `error.code` of a reply, or "ok".
pub fn code(reply: &Value) -> String {
    if reply["ok"] == Value::Bool(true) {
        "ok".into()
    } else {
        reply["error"]["code"].as_str().unwrap_or("?").to_string()
    }
}

/// The service's admin status (`result`), with the state digest when `digest`: checked `ok`.
pub async fn status(client: &Client, service: &str, admin: &str, digest: bool) -> Value {
    let body = if digest {
        &br#"{"digest":true}"#[..]
    } else {
        b"{}"
    };
    let r = send(
        client,
        &format!("csp.admin.{service}.status"),
        Some(admin),
        body,
    )
    .await;
    assert_eq!(code(&r), "ok", "status of {service}: {r}");
    r["result"].clone()
}

/// The service's log position, through its admin status endpoint.
pub async fn last_seq(client: &Client, service: &str, admin: &str) -> u64 {
    let r = status(client, service, admin, false).await;
    r["last_seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("status: {r}"))
}
