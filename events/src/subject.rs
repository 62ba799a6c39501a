//! NATS subject and stream names, in one place so that no service spells one by hand.
//!
//! - `csp.cmd.<service>.<command>`: JSON request/reply commands
//! - `csp.qry.<service>.<query>`: JSON request/reply queries
//! - `csp.in.<service>.<command>`: fire-and-forget commands (stream `CSP_INBOUND`)
//! - `csp.evt.<service>.<event>.<partner>.<customer>`: published events (stream `CSP_EVENTS`);
//!   the tenant tokens let NATS partition by tenant; `_` stands for "none"
//! - `csp.hb.<service>`: the producer's latest outbox sequence, announced periodically
//! - `csp.dlq.<service>`: quarantined bytes (stream `CSP_DLQ`)

use crate::envelope::Envelope;
use crate::id::TenantId;

/// The JetStream stream of published events.
pub const EVENTS_STREAM: &str = "CSP_EVENTS";
/// The JetStream stream of fire-and-forget commands.
pub const INBOUND_STREAM: &str = "CSP_INBOUND";
/// The JetStream stream of quarantined messages.
pub const DLQ_STREAM: &str = "CSP_DLQ";

/// The token standing for "no tenant" in an event subject.
pub const NO_TENANT: &str = "_";

/// Whether `s` can be one subject token: non-empty, no `.`, `*`, `>` or whitespace.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'.' && b != b'*' && b != b'>')
}

/// `csp.cmd.<service>.<command>`
pub fn command(service: &str, command: &str) -> String {
    format!("csp.cmd.{service}.{command}")
}

/// `csp.qry.<service>.<query>`
pub fn query(service: &str, query: &str) -> String {
    format!("csp.qry.{service}.{query}")
}

/// `csp.in.<service>.<command>`
pub fn inbound(service: &str, command: &str) -> String {
    format!("csp.in.{service}.{command}")
}

fn tenant_token(t: Option<TenantId>) -> String {
    t.map_or_else(|| NO_TENANT.to_string(), |t| t.to_string())
}

/// `csp.evt.<service>.<event>.<partner>.<customer>` for an event.
pub fn event(service: &str, env: &Envelope) -> String {
    event_of(service, env.payload.name(), env.partner, env.customer)
}

/// [`event`] from its parts, for a publisher that has the header but not the decoded payload.
pub fn event_of(
    service: &str,
    event: &str,
    partner: Option<TenantId>,
    customer: Option<TenantId>,
) -> String {
    format!(
        "csp.evt.{service}.{event}.{}.{}",
        tenant_token(partner),
        tenant_token(customer)
    )
}

/// Everything a producer publishes: `csp.evt.<service>.>`.
pub fn events_of(service: &str) -> String {
    format!("csp.evt.{service}.>")
}

/// `csp.hb.<service>`
pub fn heartbeat(service: &str) -> String {
    format!("csp.hb.{service}")
}

/// `csp.dlq.<service>`
pub fn dlq(service: &str) -> String {
    format!("csp.dlq.{service}")
}

/// The producing service of an event subject (its third token), if it is one.
pub fn producer_of(subject: &str) -> Option<&str> {
    let mut parts = subject.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("csp"), Some("evt"), Some(service)) if is_token(service) => Some(service),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::fixtures;

    #[test]
    fn event_subjects_carry_both_tenants() {
        let env = fixtures::sample(EventKind::OrderPlaced);
        let s = event("ordering", &env);
        let parts: Vec<&str> = s.split('.').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(&parts[..4], &["csp", "evt", "ordering", "order_placed"]);
        assert_eq!(parts[4], env.partner.unwrap().to_string());
        assert_eq!(parts[5], env.customer.unwrap().to_string());
        assert!(parts.iter().all(|p| is_token(p)));
        assert_eq!(producer_of(&s), Some("ordering"));
    }

    #[test]
    fn every_event_name_is_a_token() {
        for k in EventKind::ALL {
            assert!(is_token(k.name()), "{}", k.name());
            assert_eq!(EventKind::from_name(k.name()), Some(*k));
        }
    }

    #[test]
    fn missing_tenants_are_underscores() {
        let mut env = fixtures::sample(EventKind::Quarantined);
        env.partner = None;
        env.customer = None;
        assert!(event("audit", &env).ends_with("._._"));
        assert_eq!(
            command("ordering", "place_order"),
            "csp.cmd.ordering.place_order"
        );
        assert_eq!(
            query("ordering", "get_orders"),
            "csp.qry.ordering.get_orders"
        );
        assert_eq!(
            inbound("ordering", "place_order"),
            "csp.in.ordering.place_order"
        );
        assert_eq!(events_of("ordering"), "csp.evt.ordering.>");
        assert_eq!(producer_of("csp.cmd.x.y"), None);
    }
}
