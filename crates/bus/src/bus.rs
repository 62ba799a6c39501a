//! The bus: one API over two transports. [`Bus::Nats`] is production (async-nats against a
//! NATS server); [`Bus::Local`] is the in-process bus `csp up` uses by default, with the same
//! semantics and no server. One contract suite (`tests/bus_contract.rs`) runs against both.
//!
//! An enum rather than a trait object: there are exactly two transports, the match is cheap,
//! and async methods stay plain `async fn`.

use std::time::Duration;

use bytes::Bytes;

use crate::local::LocalBus;
use crate::nats::NatsBus;

/// Message headers, in order. NATS headers are multi-valued; csp uses one value per name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Headers {
        self.0.push((name.to_string(), value.into()));
        self
    }

    /// Every value of `name`, compared case-insensitively: what a check that must see a
    /// repeated header (credentials) reads.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, compared case-insensitively as NATS does for well-known
    /// headers.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A message as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The subject it was published on.
    pub subject: String,
    /// Where a reply goes, for a request.
    pub reply: Option<String>,
    /// Its headers.
    pub headers: Headers,
    /// Its body.
    pub payload: Bytes,
}

/// Why a bus operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// Nobody serves the subject (NATS answers this at once, so do we).
    #[error("no responders on {0}")]
    NoResponders(String),
    /// Somebody serves it but did not answer in time.
    #[error("request on {0} timed out")]
    Timeout(String),
    /// The message is larger than the bus carries (`max_payload`).
    #[error("message of {size} bytes exceeds the bus limit of {limit} bytes")]
    TooLarge {
        /// Bytes sent (payload and headers).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The subject is empty or malformed.
    #[error("invalid subject {0:?}")]
    InvalidSubject(String),
    /// Anything else the transport reports (connection lost, server error).
    #[error("bus: {0}")]
    Transport(String),
}

/// What a service says about itself on `$SRV.INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Service name (`ordering`): letters, digits, `-`, `_`.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One line for operators.
    pub description: String,
}

/// The transport.
#[derive(Clone)]
pub enum Bus {
    /// A NATS server.
    Nats(NatsBus),
    /// In-process.
    Local(LocalBus),
}

impl Bus {
    /// Connects to a NATS server.
    pub async fn connect(url: &str) -> Result<Bus, BusError> {
        NatsBus::connect(url).await.map(Bus::Nats)
    }

    /// A fresh in-process bus.
    pub fn local() -> Bus {
        Bus::Local(LocalBus::new())
    }

    /// The largest message (payload + headers) the bus carries.
    pub fn max_payload(&self) -> usize {
        match self {
            Bus::Nats(b) => b.max_payload(),
            Bus::Local(b) => b.max_payload(),
        }
    }

    /// Sends a request and waits up to `timeout` for its reply.
    pub async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Msg, BusError> {
        match self {
            Bus::Nats(b) => b.request(subject, headers, payload, timeout).await,
            Bus::Local(b) => b.request(subject, headers, payload, timeout).await,
        }
    }

    /// Publishes a message (no reply expected).
    pub async fn publish(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        match self {
            Bus::Nats(b) => b.publish(subject, None, headers, payload).await,
            Bus::Local(b) => b.publish(subject, None, headers, payload),
        }
    }

    /// Subscribes to a subject pattern (`*` one token, `>` the rest).
    pub async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        match self {
            Bus::Nats(b) => b.subscribe(subject).await,
            Bus::Local(b) => b.subscribe(subject, None),
        }
    }

    /// Serves `subjects` as the endpoints of a discoverable service (`$SRV.PING`, `$SRV.INFO`,
    /// `$SRV.STATS` answer). Instances of the same service share the load (a queue group).
    pub async fn serve(&self, info: &ServiceInfo, subjects: &[String]) -> Result<Served, BusError> {
        match self {
            Bus::Nats(b) => b.serve(info, subjects).await,
            Bus::Local(b) => b.serve(info, subjects),
        }
    }

    /// Creates or updates csp's JetStream streams (NATS); nothing to do in-process.
    pub async fn ensure_streams(&self) -> Result<(), BusError> {
        match self {
            Bus::Nats(b) => b.ensure_streams().await,
            Bus::Local(_) => Ok(()),
        }
    }

    /// Waits until the server has processed everything this connection sent so far, publishes
    /// and subscriptions alike (a round trip on NATS), so a test or a start-up sequence can rely
    /// on a subscription being live. A no-op in-process, where subscribing is immediate.
    pub async fn flush(&self) -> Result<(), BusError> {
        match self {
            Bus::Nats(b) => b.flush().await,
            Bus::Local(_) => Ok(()),
        }
    }
}

/// A stream of messages on a subscription.
pub struct Subscription {
    pub(crate) inner: SubscriptionInner,
}

pub(crate) enum SubscriptionInner {
    Nats(async_nats::Subscriber),
    Local {
        rx: tokio::sync::mpsc::UnboundedReceiver<Msg>,
        /// Held for its `Drop`, which unsubscribes.
        _guard: crate::local::SubGuard,
    },
}

impl Subscription {
    /// The next message; `None` once the subscription is closed.
    pub async fn next(&mut self) -> Option<Msg> {
        match &mut self.inner {
            SubscriptionInner::Nats(s) => {
                use futures_util::StreamExt;
                s.next().await.map(crate::nats::from_nats)
            }
            SubscriptionInner::Local { rx, .. } => rx.recv().await,
        }
    }
}

/// One incoming request to a served endpoint.
pub struct Incoming {
    /// Which of the served subjects it arrived on (index into the `subjects` given to `serve`).
    pub endpoint: usize,
    /// The request.
    pub msg: Msg,
    pub(crate) responder: Responder,
}

pub(crate) enum Responder {
    Nats(Box<async_nats::service::Request>),
    Local(crate::local::LocalBus),
}

impl Incoming {
    /// Sends the reply. A request whose client has gone away is not an error worth more than a
    /// log line, so this only reports transport failures.
    pub async fn respond(&self, payload: Bytes) -> Result<(), BusError> {
        match &self.responder {
            Responder::Nats(r) => r
                .respond(Ok(payload))
                .await
                .map_err(|e| BusError::Transport(e.to_string())),
            Responder::Local(bus) => match &self.msg.reply {
                Some(reply) => bus.publish(reply, None, Headers::new(), payload),
                None => Ok(()),
            },
        }
    }
}

/// A served service: the incoming requests of all its endpoints, merged.
pub struct Served {
    pub(crate) rx: tokio::sync::mpsc::Receiver<Incoming>,
    pub(crate) stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Served {
    /// The next request; `None` once the service was stopped.
    pub async fn next(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }

    /// Stops taking requests (unsubscribes); requests already received are still returned by
    /// [`Served::next`] until it yields `None`.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        self.rx.close();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}
