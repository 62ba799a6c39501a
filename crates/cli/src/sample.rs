//! A small, coherent sample log (one customer's purchases), so that `csp log --sample` shows a
//! newcomer what a log looks like without running a service.

use anyhow::Context as _;
use csp_eventlog::{Batch, EventLog, NewEvent};
use csp_events::event::EventKind;
use csp_events::{codec, fixtures, Event};

/// The story, in order.
const STORY: &[EventKind] = &[
    EventKind::CustomerAdded,
    EventKind::OrderPlaced,
    EventKind::SubscriptionStarted,
    EventKind::PerpetualPurchased,
    EventKind::AccessRefused,
    EventKind::AutoRenewChanged,
    EventKind::PerpetualCancelled,
    EventKind::RefundRequestFiled,
    EventKind::RefundRequestApproved,
];

fn stream_of(event: &Event) -> String {
    use csp_events::ordering::stream;
    match event {
        Event::CustomerAdded(e) => stream::customer(e.customer),
        Event::OrderPlaced(e) => stream::order(e.order),
        Event::SubscriptionStarted(e) => stream::subscription(e.subscription),
        Event::AutoRenewChanged(e) => stream::subscription(e.subscription),
        Event::PerpetualPurchased(e) => stream::perpetual(e.purchase),
        Event::PerpetualCancelled(e) => stream::perpetual(e.purchase),
        Event::RefundRequestFiled(e) => stream::refund_request(e.refund_request),
        Event::RefundRequestApproved(e) => stream::refund_request(e.refund_request),
        other => format!("access/{}", other.name()),
    }
}

/// Appends the sample story to `log` (skipping what is already there) and returns its length.
pub fn write(log: &EventLog) -> anyhow::Result<usize> {
    for kind in STORY {
        let mut env = fixtures::sample(*kind);
        env.stream = stream_of(&env.payload);
        env.outbox = None;
        let current = log.stream_version(&env.stream)?;
        env.stream_version = current + 1;
        let batch = Batch {
            events: vec![NewEvent {
                event_id: env.event_id.as_uuid(),
                stream: env.stream.clone(),
                version: env.stream_version,
                publish: true,
                bytes: codec::encode(&env),
            }],
            request: None,
        };
        log.append_blocking(batch)
            .with_context(|| format!("appending the sample {}", kind.name()))?;
    }
    Ok(STORY.len())
}
