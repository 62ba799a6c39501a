//! The in-process bus: NATS subject semantics (tokens, `*`, `>`, queue groups, no-responders,
//! `max_payload`) over tokio channels, so `csp up` runs every service in one process with no
//! server and the same behaviour the NATS path has.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::bus::{
    BusError, Headers, Incoming, Msg, Responder, Served, ServiceInfo, Subscription,
    SubscriptionInner,
};

/// NATS's default `max_payload`, which the in-process bus enforces too, so a service tested
/// in-process refuses the same oversized bodies it refuses over NATS.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

struct Sub {
    id: u64,
    pattern: Vec<String>,
    queue: Option<String>,
    tx: mpsc::UnboundedSender<Msg>,
}

#[derive(Default)]
struct Inner {
    subs: Mutex<Vec<Sub>>,
    next_id: AtomicU64,
    round_robin: AtomicUsize,
    max_payload: usize,
}

/// The in-process bus. Cloning shares it.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

/// Removes its subscription when dropped.
pub(crate) struct SubGuard {
    bus: LocalBus,
    id: u64,
}

impl Drop for SubGuard {
    fn drop(&mut self) {
        self.bus.unsubscribe(self.id);
    }
}

/// Whether `subject` matches `pattern` (`*` one token, `>` one or more trailing tokens).
pub fn subject_matches(pattern: &[String], subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for (i, p) in pattern.iter().enumerate() {
        match (p.as_str(), tokens.next()) {
            (">", Some(_)) => return i == pattern.len() - 1,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

fn valid_subject(s: &str, wildcards: bool) -> bool {
    !s.is_empty()
        && s.split('.').all(|t| {
            !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_graphic())
                && (wildcards || (t != "*" && t != ">"))
        })
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus::new()
    }
}

impl LocalBus {
    /// A fresh bus with NATS's default payload limit.
    pub fn new() -> LocalBus {
        LocalBus::with_max_payload(DEFAULT_MAX_PAYLOAD)
    }

    /// A fresh bus carrying messages up to `max_payload` bytes.
    pub fn with_max_payload(max_payload: usize) -> LocalBus {
        LocalBus {
            inner: Arc::new(Inner {
                max_payload,
                ..Inner::default()
            }),
        }
    }

    pub(crate) fn max_payload(&self) -> usize {
        self.inner.max_payload
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sub>> {
        // A panic while holding this lock leaves the list itself consistent (pushes and
        // retains only), so a poisoned lock is safe to keep using.
        self.inner
            .subs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    pub(crate) fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<Subscription, BusError> {
        let (rx, guard) = self.subscribe_raw(subject, queue)?;
        Ok(Subscription {
            inner: SubscriptionInner::Local { rx, _guard: guard },
        })
    }

    fn subscribe_raw(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<(mpsc::UnboundedReceiver<Msg>, SubGuard), BusError> {
        if !valid_subject(subject, true) {
            return Err(BusError::InvalidSubject(subject.to_string()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Sub {
            id,
            pattern: subject.split('.').map(str::to_string).collect(),
            queue: queue.map(str::to_string),
            tx,
        });
        Ok((
            rx,
            SubGuard {
                bus: self.clone(),
                id,
            },
        ))
    }

    /// Delivers to every plain subscriber and to one member of each queue group; returns how
    /// many received it.
    pub(crate) fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        self.deliver(subject, reply, headers, payload).map(|_| ())
    }

    fn deliver(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Headers,
        payload: Bytes,
    ) -> Result<usize, BusError> {
        if !valid_subject(subject, false) {
            return Err(BusError::InvalidSubject(subject.to_string()));
        }
        let size = payload.len()
            + headers
                .0
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>();
        if size > self.inner.max_payload {
            return Err(BusError::TooLarge {
                size,
                limit: self.inner.max_payload,
            });
        }
        let msg = Msg {
            subject: subject.to_string(),
            reply: reply.map(str::to_string),
            headers,
            payload,
        };
        let subs = self.lock();
        let mut delivered = 0;
        let mut groups: HashMap<&str, Vec<&Sub>> = HashMap::new();
        for sub in subs.iter().filter(|s| subject_matches(&s.pattern, subject)) {
            match &sub.queue {
                None => {
                    if sub.tx.send(msg.clone()).is_ok() {
                        delivered += 1;
                    }
                }
                Some(q) => groups.entry(q.as_str()).or_default().push(sub),
            }
        }
        for members in groups.values() {
            let start = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
            // One member per group; skip members whose receiver is gone.
            if (0..members.len())
                .map(|k| members[(start + k) % members.len()])
                .any(|m| m.tx.send(msg.clone()).is_ok())
            {
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    pub(crate) async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Msg, BusError> {
        let inbox = format!("_INBOX.{}", uuid::Uuid::new_v4().simple());
        let (mut rx, _guard) = self.subscribe_raw(&inbox, None)?;
        let delivered = self.deliver(subject, Some(&inbox), headers, payload)?;
        if delivered == 0 {
            return Err(BusError::NoResponders(subject.to_string()));
        }
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => Err(BusError::Transport("reply inbox closed".into())),
            Err(_) => Err(BusError::Timeout(subject.to_string())),
        }
    }

    pub(crate) fn serve(
        &self,
        info: &ServiceInfo,
        subjects: &[String],
    ) -> Result<Served, BusError> {
        let (tx, rx) = mpsc::channel(1024);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stats = Arc::new(LocalStats {
            started: chrono_now(),
            requests: subjects.iter().map(|_| AtomicU64::new(0)).collect(),
        });
        let mut guards = Vec::new();
        for (endpoint, subject) in subjects.iter().enumerate() {
            let (mut sub_rx, guard) = self.subscribe_raw(subject, Some("q"))?;
            guards.push(guard);
            let tx = tx.clone();
            let bus = self.clone();
            let stats = Arc::clone(&stats);
            tokio::spawn(async move {
                while let Some(msg) = sub_rx.recv().await {
                    stats.requests[endpoint].fetch_add(1, Ordering::Relaxed);
                    let incoming = Incoming {
                        endpoint,
                        msg,
                        responder: Responder::Local(bus.clone()),
                    };
                    if tx.send(incoming).await.is_err() {
                        break;
                    }
                }
            });
        }
        // Discovery, as the NATS service API answers it.
        for verb in ["PING", "INFO", "STATS"] {
            for subject in [
                format!("$SRV.{verb}"),
                format!("$SRV.{verb}.{}", info.name),
                format!("$SRV.{verb}.{}.{id}", info.name),
            ] {
                let (mut sub_rx, guard) = self.subscribe_raw(&subject, None)?;
                guards.push(guard);
                let bus = self.clone();
                let stats = Arc::clone(&stats);
                let (info, id, subjects) = (info.clone(), id.clone(), subjects.to_vec());
                tokio::spawn(async move {
                    while let Some(msg) = sub_rx.recv().await {
                        if let Some(reply) = msg.reply {
                            let body = discovery(verb, &info, &id, &subjects, &stats);
                            let _ = bus.publish(&reply, None, Headers::new(), body);
                        }
                    }
                });
            }
        }
        let guards = Mutex::new(Some(guards));
        Ok(Served {
            rx,
            stop: Some(Box::new(move || {
                if let Ok(mut g) = guards.lock() {
                    g.take();
                }
            })),
        })
    }
}

struct LocalStats {
    started: String,
    requests: Vec<AtomicU64>,
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    csp_events::Timestamp::from_micros(now.as_micros() as i64).to_string()
}

fn discovery(
    verb: &str,
    info: &ServiceInfo,
    id: &str,
    subjects: &[String],
    stats: &LocalStats,
) -> Bytes {
    let base = serde_json::json!({
        "name": info.name, "id": id, "version": info.version, "metadata": {},
    });
    let mut v = base;
    let obj = v.as_object_mut().expect("json! object literal");
    match verb {
        "PING" => {
            obj.insert("type".into(), "io.nats.micro.v1.ping_response".into());
        }
        "INFO" => {
            obj.insert("type".into(), "io.nats.micro.v1.info_response".into());
            obj.insert("description".into(), info.description.clone().into());
            obj.insert(
                "endpoints".into(),
                subjects
                    .iter()
                    .map(|s| serde_json::json!({"name": s.replace('.', "-"), "subject": s, "queue_group": "q"}))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        _ => {
            obj.insert("type".into(), "io.nats.micro.v1.stats_response".into());
            obj.insert("started".into(), stats.started.clone().into());
            obj.insert(
                "endpoints".into(),
                subjects
                    .iter()
                    .zip(&stats.requests)
                    .map(|(s, n)| {
                        serde_json::json!({
                            "name": s.replace('.', "-"), "subject": s, "queue_group": "q",
                            "num_requests": n.load(Ordering::Relaxed),
                        })
                    })
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn wildcards_match_like_nats() {
        assert!(subject_matches(
            &p("csp.cmd.*.*"),
            "csp.cmd.ordering.place_order"
        ));
        assert!(!subject_matches(
            &p("csp.cmd.*"),
            "csp.cmd.ordering.place_order"
        ));
        assert!(subject_matches(&p("csp.evt.>"), "csp.evt.ordering.x.p.c"));
        assert!(!subject_matches(&p("csp.evt.>"), "csp.evt"));
        assert!(subject_matches(&p("a.b"), "a.b"));
        assert!(!subject_matches(&p("a.b"), "a.b.c"));
        assert!(!subject_matches(&p("a.b.c"), "a.b"));
    }
}
