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
use futures_util::{FutureExt, StreamExt};

use crate::bus::{Bus, BusError, Headers, Msg, Subscription};
use crate::nats::{headers_from_nats, to_nats};

/// How long a batch waits for one more message once it has some: long enough for the
/// connection to parse the next read of a burst, short enough to add little latency.
const LINGER: Duration = Duration::from_micros(500);

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
    Nats(Box<NatsConsumer>),
    /// A plain subscription.
    Local(Subscription),
}

/// A JetStream pull consumer read as a continuous stream: the client keeps pull requests for up
/// to a batch of messages outstanding, so messages arrive as they are stored. (A `fetch` per
/// batch does not wait: it returns at once with whatever is there, so under load it returns a
/// few messages a time, and on an idle stream a caller that fetches again at once spins.)
pub struct NatsConsumer {
    consumer: jetstream::consumer::PullConsumer,
    /// Made on first use, and made again after it failed or ended.
    messages: Option<jetstream::consumer::pull::Stream>,
    /// Messages taken from the stream and not yet returned. A `fetch` collects here, not in a
    /// local, so that a caller dropping it mid-batch (a `select!` that took another branch)
    /// gets them from the next call instead of losing them until JetStream redelivers.
    taken: Vec<JsMsg>,
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

fn nats_msg(mut m: jetstream::Message) -> JsMsg {
    let (stream_seq, delivered) = m
        .info()
        .map(|i| (i.stream_sequence, i.delivered))
        .unwrap_or((0, 1));
    // The body and headers move out; acknowledging needs only the reply subject, which stays.
    let message = &mut m.message;
    let msg = Msg {
        subject: message.subject.to_string(),
        reply: None,
        headers: headers_from_nats(message.headers.take()),
        payload: std::mem::take(&mut message.payload),
    };
    JsMsg {
        msg,
        stream_seq,
        delivered,
        inner: Some(m),
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
            Bus::Nats(b) => b
                .jetstream()
                .publish_with_headers(subject.to_string(), to_nats(&headers), payload)
                .await
                .map(JsAck::Nats)
                .map_err(|e| BusError::Transport(format!("publish: {e}"))),
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
                let stream = b
                    .jetstream()
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
                    .map(|consumer| {
                        JsConsumer::Nats(Box::new(NatsConsumer {
                            consumer,
                            messages: None,
                            taken: Vec::new(),
                        }))
                    })
                    .map_err(|e| BusError::Transport(format!("consumer {durable}: {e}")))
            }
            Bus::Local(_) => self.subscribe(filter).await.map(JsConsumer::Local),
        }
    }
}

impl JsConsumer {
    /// Up to `max` messages: waits at most `wait` for the first, then takes whatever else has
    /// already arrived, without waiting. Cancel-safe: a message is either returned or stays
    /// for the next call.
    pub async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<JsMsg>, BusError> {
        match self {
            JsConsumer::Nats(c) => {
                if c.taken.len() >= max {
                    return Ok(std::mem::take(&mut c.taken));
                }
                let messages = match &mut c.messages {
                    Some(messages) => messages,
                    None => c.messages.insert(
                        c.consumer
                            .stream()
                            .max_messages_per_batch(max)
                            .messages()
                            .await
                            .map_err(|e| BusError::Transport(format!("consume: {e}")))?,
                    ),
                };
                // Taken by a call that was dropped: returned now, without waiting again.
                let mut next = if c.taken.is_empty() {
                    match tokio::time::timeout(wait, messages.next()).await {
                        Err(_) => return Ok(Vec::new()),
                        Ok(first) => first,
                    }
                } else {
                    match messages.next().now_or_never() {
                        Some(item) => item,
                        None => return Ok(std::mem::take(&mut c.taken)),
                    }
                };
                loop {
                    match next {
                        Some(Ok(m)) => c.taken.push(nats_msg(m)),
                        Some(Err(e)) => {
                            // The stream reports a lost connection or missed heartbeats; start
                            // a fresh one next time. What was taken is still returned.
                            c.messages = None;
                            if c.taken.is_empty() {
                                return Err(BusError::Transport(format!("consume: {e}")));
                            }
                            return Ok(std::mem::take(&mut c.taken));
                        }
                        None => {
                            c.messages = None;
                            return Ok(std::mem::take(&mut c.taken));
                        }
                    }
                    if c.taken.len() >= max {
                        return Ok(std::mem::take(&mut c.taken));
                    }
                    let Some(messages) = c.messages.as_mut() else {
                        return Ok(std::mem::take(&mut c.taken));
                    };
                    next = match messages.next().now_or_never() {
                        Some(item) => item,
                        // Nothing parsed yet: the connection may still be reading a burst
                        // (it parses one read buffer, ~128 messages, at a time), so linger
                        // briefly while messages keep coming rather than cut the batch there.
                        None => match tokio::time::timeout(LINGER, messages.next()).await {
                            Ok(item) => item,
                            Err(_) => return Ok(std::mem::take(&mut c.taken)),
                        },
                    };
                }
            }
            JsConsumer::Local(sub) => {
                let mut out = Vec::new();
                let first = tokio::time::timeout(wait, sub.next()).await;
                let Ok(Some(first)) = first else {
                    return Ok(out);
                };
                out.push(local(first));
                // No await from here on: a caller that drops this call cannot lose what it took.
                while out.len() < max {
                    match sub.next().now_or_never() {
                        Some(Some(m)) => out.push(local(m)),
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
