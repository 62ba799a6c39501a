//! JetStream, as csp uses it: publish with a message id and wait for the acknowledgement
//! (pipelined), and durable pull consumers with explicit acks.
//!
//! In-process, there is no JetStream: a publish is a plain delivery and a consumer a plain
//! subscription. That is enough because csp never trusts the transport for completeness: a
//! consumer detects gaps and a lagging tail by outbox sequence numbers and heartbeats, and
//! fetches what it missed from the producer's own log (`events_from`). Over NATS the same
//! mechanism covers what JetStream loses.

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::bus::{Bus, BusError, Headers, Msg, Subscription};
use crate::nats::{from_nats, to_nats};

/// The header JetStream deduplicates on.
pub const MSG_ID: &str = "Nats-Msg-Id";

/// An acknowledgement to wait for.
pub enum JsAck {
    /// JetStream's pending acknowledgement.
    Nats(jetstream::context::PublishAckFuture),
    /// Already done (in-process).
    Done,
}

impl JsAck {
    /// Waits until the stream has stored the message (or refused it).
    pub async fn wait(self) -> Result<(), BusError> {
        match self {
            JsAck::Nats(f) => f
                .await
                .map(|_| ())
                .map_err(|e| BusError::Transport(format!("publish not acknowledged: {e}"))),
            JsAck::Done => Ok(()),
        }
    }
}

/// A durable pull consumer (NATS) or a subscription standing in for one (in-process).
pub enum JsConsumer {
    /// A JetStream durable pull consumer.
    Nats(Box<jetstream::consumer::PullConsumer>),
    /// A plain subscription.
    Local(Subscription),
}

/// A message from a consumer, to acknowledge once handled.
pub struct JsMsg {
    /// The message.
    pub msg: Msg,
    /// Its sequence in the stream (0 in-process).
    pub stream_seq: u64,
    /// How many times it was delivered (1 in-process).
    pub delivered: i64,
    inner: Option<jetstream::Message>,
}

impl JsMsg {
    /// Acknowledges it: JetStream will not deliver it again.
    pub async fn ack(&self) -> Result<(), BusError> {
        match &self.inner {
            Some(m) => m
                .ack()
                .await
                .map_err(|e| BusError::Transport(format!("ack: {e}"))),
            None => Ok(()),
        }
    }

    /// Asks for redelivery after `delay`.
    pub async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        match &self.inner {
            Some(m) => m
                .ack_with(jetstream::AckKind::Nak(Some(delay)))
                .await
                .map_err(|e| BusError::Transport(format!("nak: {e}"))),
            None => Ok(()),
        }
    }
}

impl Bus {
    /// Publishes to a JetStream stream with `Nats-Msg-Id = msg_id` (the stream drops a repeat
    /// within its duplicate window) and returns the acknowledgement to wait for, so callers
    /// can keep many publishes in flight.
    pub async fn js_publish(
        &self,
        subject: &str,
        msg_id: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<JsAck, BusError> {
        let headers = headers.with(MSG_ID, msg_id);
        match self {
            Bus::Nats(b) => {
                let js = jetstream::new(b.client().clone());
                js.publish_with_headers(subject.to_string(), to_nats(&headers), payload)
                    .await
                    .map(JsAck::Nats)
                    .map_err(|e| BusError::Transport(format!("publish: {e}")))
            }
            Bus::Local(_) => {
                self.publish(subject, headers, payload).await?;
                Ok(JsAck::Done)
            }
        }
    }

    /// A durable pull consumer named `durable` on `stream`, filtered to `filter`, with explicit
    /// acks; created if missing. Messages not acknowledged within `ack_wait` are redelivered.
    pub async fn durable_consumer(
        &self,
        stream: &str,
        durable: &str,
        filter: &str,
        ack_wait: Duration,
    ) -> Result<JsConsumer, BusError> {
        match self {
            Bus::Nats(b) => {
                let js = jetstream::new(b.client().clone());
                let stream = js
                    .get_stream(stream)
                    .await
                    .map_err(|e| BusError::Transport(format!("stream {stream}: {e}")))?;
                let config = jetstream::consumer::pull::Config {
                    durable_name: Some(durable.to_string()),
                    filter_subject: filter.to_string(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait,
                    max_ack_pending: 10_000,
                    ..Default::default()
                };
                stream
                    .get_or_create_consumer(durable, config)
                    .await
                    .map(|c| JsConsumer::Nats(Box::new(c)))
                    .map_err(|e| BusError::Transport(format!("consumer {durable}: {e}")))
            }
            Bus::Local(_) => self.subscribe(filter).await.map(JsConsumer::Local),
        }
    }
}

impl JsConsumer {
    /// Up to `max` messages, waiting at most `wait` for the first.
    pub async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<JsMsg>, BusError> {
        match self {
            JsConsumer::Nats(c) => {
                let mut batch = c
                    .fetch()
                    .max_messages(max)
                    .expires(wait)
                    .messages()
                    .await
                    .map_err(|e| BusError::Transport(format!("fetch: {e}")))?;
                let mut out = Vec::new();
                while let Some(m) = batch.next().await {
                    let m = m.map_err(|e| BusError::Transport(format!("fetch: {e}")))?;
                    let (stream_seq, delivered) = m
                        .info()
                        .map(|i| (i.stream_sequence, i.delivered))
                        .unwrap_or((0, 1));
                    out.push(JsMsg {
                        msg: from_nats(m.message.clone()),
                        stream_seq,
                        delivered,
                        inner: Some(m),
                    });
                }
                Ok(out)
            }
            JsConsumer::Local(sub) => {
                let mut out = Vec::new();
                let first = tokio::time::timeout(wait, sub.next()).await;
                let Ok(Some(first)) = first else {
                    return Ok(out);
                };
                out.push(local(first));
                while out.len() < max {
                    match tokio::time::timeout(Duration::ZERO, sub.next()).await {
                        Ok(Some(m)) => out.push(local(m)),
                        _ => break,
                    }
                }
                Ok(out)
            }
        }
    }
}

fn local(msg: Msg) -> JsMsg {
    JsMsg {
        msg,
        stream_seq: 0,
        delivered: 1,
        inner: None,
    }
}
