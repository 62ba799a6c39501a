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

fn transport(e: impl std::fmt::Display) -> BusError {
    BusError::Transport(e.to_string())
}

impl NatsBus {
    /// Connects, retrying the initial connection so a service started just before its server
    /// still comes up.
    pub async fn connect(url: &str) -> Result<NatsBus, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("csp")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
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
            return Err(BusError::Transport(format!("cannot reach NATS at {url}")));
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

/// The JetStream streams csp relies on, as created or updated at start-up.
pub fn stream_configs() -> Vec<async_nats::jetstream::stream::Config> {
    use async_nats::jetstream::stream::{Config, StorageType};
    use csp_events::subject;
    let file = |name: &str, subjects: &str, dedupe: Duration| Config {
        name: name.to_string(),
        subjects: vec![subjects.to_string()],
        storage: StorageType::File,
        duplicate_window: dedupe,
        ..Default::default()
    };
    vec![
        // Published events. The duplicate window turns a republish after a producer restart
        // (same Nats-Msg-Id = event id) into a no-op; beyond it, consumers dedupe by event id.
        file(
            subject::EVENTS_STREAM,
            "csp.evt.>",
            Duration::from_secs(10 * 60),
        ),
        // Fire-and-forget commands, kept until their service has run them.
        file(
            subject::INBOUND_STREAM,
            "csp.in.>",
            Duration::from_secs(10 * 60),
        ),
        // Quarantined bytes, for operators.
        file(
            subject::DLQ_STREAM,
            "csp.dlq.>",
            Duration::from_secs(2 * 60),
        ),
    ]
}

impl NatsBus {
    /// Creates csp's streams, or updates them to the configuration of this build. Every service
    /// calls this at start-up; it is idempotent, so services starting together do not conflict.
    pub async fn ensure_streams(&self) -> Result<(), BusError> {
        let js = &self.js;
        for config in stream_configs() {
            let name = config.name.clone();
            match js.get_stream(&name).await {
                Ok(mut existing) => {
                    let current = existing.info().await.map_err(transport)?.config.clone();
                    if current.subjects != config.subjects
                        || current.duplicate_window != config.duplicate_window
                    {
                        js.update_stream(config).await.map_err(|e| {
                            BusError::Transport(format!("updating stream {name}: {e}"))
                        })?;
                    }
                }
                Err(_) => {
                    js.create_stream(config)
                        .await
                        .map_err(|e| BusError::Transport(format!("creating stream {name}: {e}")))?;
                }
            }
        }
        Ok(())
    }
}
