//! The NATS transport: async-nats, with the service API for endpoints so that `$SRV.PING`,
//! `$SRV.INFO` and `$SRV.STATS` discovery works with standard NATS tooling.

use std::time::Duration;

use async_nats::service::ServiceExt;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::bus::{
    BusError, Headers, Incoming, Msg, Responder, Served, ServiceInfo, Subscription,
    SubscriptionInner,
};

/// A connection to a NATS server. Cloning shares the connection.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    /// One JetStream context for every publish: making one per publish cost an allocation
    /// and a clone of the client each time (measured: 2 % of a busy outbox's CPU).
    js: Box<async_nats::jetstream::Context>,
}

pub(crate) fn to_nats(headers: &Headers) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in &headers.0 {
        map.append(k.as_str(), v.as_str());
    }
    map
}

pub(crate) fn from_nats(m: async_nats::Message) -> Msg {
    Msg {
        subject: m.subject.to_string(),
        reply: m.reply.map(|r| r.to_string()),
        headers: headers_from_nats(m.headers),
        payload: m.payload,
    }
}

pub(crate) fn headers_from_nats(headers: Option<async_nats::HeaderMap>) -> Headers {
    headers
        .map(|h| {
            Headers(
                h.iter()
                    .flat_map(|(k, vs)| {
                        vs.iter()
                            .map(move |v| (k.to_string(), v.as_str().to_string()))
                    })
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// The prefix of a NATS user's reply subjects: its own, so a deployment can deny every user the
/// shared `_INBOX.>` and with it everyone else's replies.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// `url` with every password replaced by `***`, for logs and error messages.
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|one| match (one.find("://"), one.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &one[scheme + 3..at];
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{}{user}:***{}", &one[..scheme + 3], &one[at..])
            }
            _ => one.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Where to connect: the servers, and the user to connect as, if any.
struct Target {
    servers: Vec<async_nats::ServerAddr>,
    credentials: Option<(String, String)>,
}

impl Target {
    fn parse(url: &str) -> Result<Target, BusError> {
        let mut servers = Vec::new();
        let mut credentials = None;
        for one in url.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let addr: async_nats::ServerAddr = one.parse().map_err(|e| {
                BusError::Transport(format!("not a NATS URL: {} ({e})", redacted(one)))
            })?;
            if let (None, Some(user)) = (&credentials, addr.username()) {
                let password = addr.password().unwrap_or_default();
                // Taken as written: a password must be URL-safe (deploy/README.md), and one
                // that looks percent-encoded is refused rather than silently sent encoded.
                if user.contains('%') || password.contains('%') {
                    return Err(BusError::Transport(format!(
                        "the NATS user and password in {} must be URL-safe (no %-escapes)",
                        redacted(one)
                    )));
                }
                if !csp_events::subject::is_token(user) {
                    return Err(BusError::Transport(format!(
                        "the NATS user in {} cannot name an inbox (a subject token)",
                        redacted(one)
                    )));
                }
                credentials = Some((user.to_string(), password.to_string()));
            }
            servers.push(addr);
        }
        if servers.is_empty() {
            return Err(BusError::Transport("no NATS URL given".into()));
        }
        Ok(Target {
            servers,
            credentials,
        })
    }
}

fn transport(e: impl std::fmt::Display) -> BusError {
    BusError::Transport(e.to_string())
}

impl NatsBus {
    /// Connects, retrying the initial connection so a service started just before its server
    /// still comes up. `url` may list a cluster's nodes separated by commas, and carry a NATS
    /// user and password (`nats://billing:PASSWORD@host:4222,nats://host:4223`): the first URL
    /// with a user names it for the whole list. A named user gets its own inbox prefix,
    /// `_INBOX_<user>`, so that a deployment can let each user subscribe to its own replies and
    /// nobody's else (deploy/nats/users.conf).
    pub async fn connect(url: &str) -> Result<NatsBus, BusError> {
        let target = Target::parse(url)?;
        let mut options = async_nats::ConnectOptions::new()
            .name("csp")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5));
        if let Some((user, password)) = &target.credentials {
            options = options
                .user_and_password(user.clone(), password.clone())
                .custom_inbox_prefix(inbox_prefix(user));
        }
        let client = options
            .connect(target.servers.as_slice())
            .await
            .map_err(transport)?;
        // With retry_on_initial_connect, connect returns before the first connection: wait for
        // it, bounded, so that max_payload below is the server's and not a default.
        for _ in 0..100 {
            if client.connection_state() == async_nats::connection::State::Connected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if client.connection_state() != async_nats::connection::State::Connected {
            return Err(BusError::Transport(format!(
                "cannot reach NATS at {}",
                redacted(url)
            )));
        }
        let js = Box::new(async_nats::jetstream::new(client.clone()));
        Ok(NatsBus { client, js })
    }

    /// The underlying client, for anything the bus does not wrap.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context over the same connection.
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    pub(crate) fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    pub(crate) async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Msg, BusError> {
        use async_nats::RequestErrorKind as K;
        let request = async_nats::Request::new()
            .payload(payload)
            .headers(to_nats(&headers))
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_string(), request).await {
            Ok(m) => Ok(from_nats(m)),
            Err(e) => Err(match e.kind() {
                K::NoResponders => BusError::NoResponders(subject.to_string()),
                K::TimedOut => BusError::Timeout(subject.to_string()),
                K::InvalidSubject => BusError::InvalidSubject(subject.to_string()),
                K::MaxPayloadExceeded => BusError::TooLarge {
                    size: 0,
                    limit: self.max_payload(),
                },
                _ => transport(e),
            }),
        }
    }

    pub(crate) async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        use async_nats::client::PublishErrorKind as K;
        let result = match reply {
            Some(r) => {
                self.client
                    .publish_with_reply_and_headers(
                        subject.to_string(),
                        r.to_string(),
                        to_nats(&headers),
                        payload,
                    )
                    .await
            }
            None => {
                self.client
                    .publish_with_headers(subject.to_string(), to_nats(&headers), payload)
                    .await
            }
        };
        result.map_err(|e| match e.kind() {
            K::MaxPayloadExceeded => BusError::TooLarge {
                size: 0,
                limit: self.max_payload(),
            },
            K::InvalidSubject => BusError::InvalidSubject(subject.to_string()),
            _ => transport(e),
        })
    }

    pub(crate) async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        let sub = self
            .client
            .subscribe(subject.to_string())
            .await
            .map_err(transport)?;
        Ok(Subscription {
            inner: SubscriptionInner::Nats(sub),
        })
    }

    /// A round trip, not just a socket flush: async-nats' `flush` only empties the client's
    /// write buffer, so a subscription made just before may not be known to the server yet.
    /// The server handles one connection's protocol in order, so once a message this connection
    /// publishes to its own fresh inbox comes back, everything sent before it has been processed.
    pub(crate) async fn flush(&self) -> Result<(), BusError> {
        use futures_util::StreamExt;
        let inbox = self.client.new_inbox();
        let mut echo = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(transport)?;
        self.client
            .publish(inbox, bytes::Bytes::new())
            .await
            .map_err(transport)?;
        self.client.flush().await.map_err(transport)?;
        match tokio::time::timeout(Duration::from_secs(10), echo.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(BusError::Transport("connection closed during flush".into())),
            Err(_) => Err(BusError::Timeout("flush".into())),
        }
    }

    pub(crate) async fn serve(
        &self,
        info: &ServiceInfo,
        subjects: &[String],
    ) -> Result<Served, BusError> {
        let service = self
            .client
            .service_builder()
            .description(info.description.clone())
            .start(info.name.clone(), info.version.clone())
            .await
            .map_err(transport)?;
        let (tx, rx) = mpsc::channel(1024);
        let mut endpoints = Vec::new();
        for (endpoint, subject) in subjects.iter().enumerate() {
            let mut ep = service
                .endpoint_builder()
                .name(subject.replace('.', "-"))
                .add(subject.clone())
                .await
                .map_err(transport)?;
            let tx = tx.clone();
            endpoints.push(tokio::spawn(async move {
                while let Some(request) = ep.next().await {
                    let msg = from_nats(request.message.clone());
                    let incoming = Incoming {
                        endpoint,
                        msg,
                        responder: Responder::Nats(Box::new(request)),
                    };
                    if tx.send(incoming).await.is_err() {
                        break;
                    }
                }
            }));
        }
        let service = std::sync::Mutex::new(Some(service));
        Ok(Served {
            rx,
            stop: Some(Box::new(move || {
                for e in &endpoints {
                    e.abort();
                }
                if let Ok(mut s) = service.lock() {
                    if let Some(s) = s.take() {
                        tokio::spawn(async move {
                            let _ = s.stop().await;
                        });
                    }
                }
            })),
        })
    }
}

/// How long JetStream keeps a published event. A consumer further behind than this still
/// gets every event: it finds the gap by outbox sequence and fetches what it missed from the
/// producer's own log (`events_from`), which keeps everything.
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a fire-and-forget command waits for its service: a month of downtime.
pub const INBOUND_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long quarantined bytes stay for an operator to look at.
pub const DLQ_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

/// The JetStream streams csp relies on, replicated `replicas` times (1 on a single node, 3 on
/// the deploy/ cluster), with retention limits so that no stream grows without bound.
pub fn stream_configs(replicas: usize) -> Vec<async_nats::jetstream::stream::Config> {
    use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
    use csp_events::subject;
    let file = |name: &str, subjects: &str, dedupe: Duration, max_age: Duration| Config {
        name: name.to_string(),
        subjects: vec![subjects.to_string()],
        storage: StorageType::File,
        duplicate_window: dedupe,
        num_replicas: replicas,
        max_age,
        discard: DiscardPolicy::Old,
        ..Default::default()
    };
    vec![
        // Published events. The duplicate window turns a republish after a producer restart
        // (same Nats-Msg-Id = event id) into a no-op; beyond it, consumers dedupe by event id.
        file(
            subject::EVENTS_STREAM,
            "csp.evt.>",
            Duration::from_secs(10 * 60),
            EVENTS_MAX_AGE,
        ),
        // Fire-and-forget commands, kept until their service has run them.
        file(
            subject::INBOUND_STREAM,
            "csp.in.>",
            Duration::from_secs(10 * 60),
            INBOUND_MAX_AGE,
        ),
        // Quarantined bytes, for operators.
        file(
            subject::DLQ_STREAM,
            "csp.dlq.>",
            Duration::from_secs(2 * 60),
            DLQ_MAX_AGE,
        ),
    ]
}

/// What `csp deploy streams` did to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChange {
    /// It did not exist and was created.
    Created,
    /// It existed with another configuration and was updated to this build's.
    Updated,
    /// It already had this build's configuration.
    Unchanged,
}

impl NatsBus {
    /// Checks that csp's streams exist with the subjects this build publishes to. A service
    /// never changes a stream: replicas and limits are the administrator's (`csp deploy
    /// streams`), and a service that reset them at start-up would undo a deployment. Only a
    /// missing stream is created, as a single replica with this build's limits, so that a
    /// development server needs no deploy step; where the service's NATS user may not create
    /// streams (a deployment), that is an error naming the deploy step.
    pub async fn ensure_streams(&self) -> Result<(), BusError> {
        for config in stream_configs(1) {
            let name = config.name.clone();
            match self.current(&name).await? {
                Some(current) if current.subjects != config.subjects => {
                    return Err(BusError::Transport(format!(
                        "stream {name} takes {:?}, not {:?}: an administrator runs `csp deploy streams`",
                        current.subjects, config.subjects
                    )));
                }
                Some(_) => {}
                None => {
                    self.js.create_stream(config).await.map_err(|e| {
                        BusError::Transport(format!(
                            "stream {name} is missing and cannot be created here ({e}): an administrator runs `csp deploy streams`"
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Creates csp's streams, or updates them to this build's subjects, limits and `replicas`:
    /// the administrator's deploy step, run with a NATS user that may manage streams.
    pub async fn deploy_streams(
        &self,
        replicas: usize,
    ) -> Result<Vec<(String, StreamChange)>, BusError> {
        let mut changes = Vec::new();
        for config in stream_configs(replicas) {
            let name = config.name.clone();
            let change =
                match self.current(&name).await? {
                    Some(current)
                        if current.subjects == config.subjects
                            && current.duplicate_window == config.duplicate_window
                            && current.num_replicas == config.num_replicas
                            && current.max_age == config.max_age
                            && current.discard == config.discard =>
                    {
                        StreamChange::Unchanged
                    }
                    Some(_) => {
                        self.js.update_stream(config).await.map_err(|e| {
                            BusError::Transport(format!("updating stream {name}: {e}"))
                        })?;
                        StreamChange::Updated
                    }
                    None => {
                        self.js.create_stream(config).await.map_err(|e| {
                            BusError::Transport(format!("creating stream {name}: {e}"))
                        })?;
                        StreamChange::Created
                    }
                };
            changes.push((name, change));
        }
        Ok(changes)
    }

    /// The stream's configuration as the server holds it, `None` if it does not exist.
    async fn current(
        &self,
        name: &str,
    ) -> Result<Option<async_nats::jetstream::stream::Config>, BusError> {
        match self.js.get_stream(name).await {
            Ok(mut stream) => Ok(Some(stream.info().await.map_err(transport)?.config.clone())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(BusError::Transport(format!(
                "stream {name}: {e} (is JetStream enabled, and may this NATS user read stream info?)"
            ))),
        }
    }
}

/// Whether JetStream said the stream does not exist (as opposed to not answering at all).
fn is_not_found(e: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    match e.kind() {
        GetStreamErrorKind::JetStream(js) => {
            js.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log_line() {
        assert_eq!(
            redacted("nats://billing:s3cret@127.0.0.1:4222,nats://127.0.0.1:4223"),
            "nats://billing:***@127.0.0.1:4222,nats://127.0.0.1:4223"
        );
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redacted("nats://user@h:1"), "nats://user:***@h:1");
    }

    #[test]
    fn a_cluster_url_list_names_one_user_and_its_own_inbox() {
        let t = Target::parse("nats://audit:pw@127.0.0.1:4222, nats://127.0.0.1:4223").unwrap();
        assert_eq!(t.servers.len(), 2);
        assert_eq!(t.credentials, Some(("audit".into(), "pw".into())));
        assert_eq!(inbox_prefix("audit"), "_INBOX_audit");
        assert!(Target::parse("nats://127.0.0.1:4222")
            .unwrap()
            .credentials
            .is_none());
        let err = Target::parse("nats://a:p%40ss@h:1")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("URL-safe") && !err.contains("p%40ss"), "{err}");
        assert!(Target::parse(" , ").is_err());
    }
}
