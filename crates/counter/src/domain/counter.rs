//! The counter decider: one counter per customer.

use csp_events::counter::{
    CounterExpired, CounterIncremented, CounterOpened, Increment, OpenCounter,
};
use csp_events::kernel::{Context, Decider, Due, Rejection};
use csp_events::{ActorKind, ErrorCode, Event, Role, TenantId, Timestamp};

/// A counter's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterState {
    /// Set once opened.
    pub opened: Option<CounterOpened>,
    /// The total so far.
    pub total: u64,
    /// Whether it expired.
    pub expired: bool,
}

/// What a counter is asked to do: the contract's commands as they arrive (the decider needs
/// nothing they do not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterCommand {
    /// `open_counter`.
    Open(OpenCounter),
    /// `increment`.
    Increment(Increment),
}

/// The partner a counter's later events are recorded for (only its opening names it).
pub fn partner(s: &CounterState) -> Option<TenantId> {
    s.opened.as_ref().map(|o| o.partner)
}

/// The counter decider.
pub struct Counter;

/// `forbidden`, naming the customer for the audit trail (the runtime never sends it).
pub fn forbidden(message: impl Into<String>, customer: TenantId) -> Rejection {
    Rejection::new(ErrorCode::Forbidden, message).refusal(Some(customer), None)
}

/// Only a partner `admin_agent` acts on counters.
pub fn check_admin_agent(ctx: &Context, customer: TenantId) -> Result<(), Rejection> {
    if ctx.actor.kind == ActorKind::Partner && ctx.actor.has(Role::AdminAgent) {
        Ok(())
    } else {
        Err(forbidden(
            "only a partner admin_agent may change a counter",
            customer,
        ))
    }
}

/// The counter as `ctx`'s actor may see it: an `admin_agent` of the partner that opened it;
/// `not_found` if there is none.
pub fn served<'a>(
    s: &'a CounterState,
    ctx: &Context,
    customer: TenantId,
) -> Result<&'a CounterOpened, Rejection> {
    check_admin_agent(ctx, customer)?;
    let Some(opened) = &s.opened else {
        let message = format!("customer {customer} has no counter");
        return Err(Rejection::new(ErrorCode::NotFound, message));
    };
    if opened.partner != ctx.actor.tenant {
        let message = "this partner does not serve that customer";
        return Err(forbidden(message, customer));
    }
    Ok(opened)
}

impl Decider for Counter {
    type State = CounterState;
    type Command = CounterCommand;
    type Event = Event;

    fn decide(
        s: &CounterState,
        c: &CounterCommand,
        ctx: &Context,
    ) -> Result<Vec<Event>, Rejection> {
        match c {
            CounterCommand::Open(OpenCounter {
                customer,
                limit,
                expires_in_hours,
                ..
            }) => {
                check_admin_agent(ctx, *customer)?;
                if s.opened.is_some() {
                    return Err(Rejection::new(
                        ErrorCode::AlreadyExists,
                        format!("customer {customer} already has a counter"),
                    ));
                }
                if *limit == 0 || *expires_in_hours == 0 {
                    return Err(Rejection::new(
                        ErrorCode::InvalidRequest,
                        "limit and expires_in_hours must be at least 1",
                    )
                    .with(
                        "path",
                        if *limit == 0 {
                            "limit"
                        } else {
                            "expires_in_hours"
                        },
                    ));
                }
                let expires_at = ctx.now.plus_hours(*expires_in_hours).ok_or_else(|| {
                    Rejection::new(ErrorCode::InvalidRequest, "expires_in_hours is too large")
                        .with("path", "expires_in_hours")
                })?;
                Ok(vec![CounterOpened {
                    customer: *customer,
                    partner: ctx.actor.tenant,
                    limit: *limit,
                    expires_at,
                }
                .into()])
            }
            CounterCommand::Increment(Increment { customer, by, .. }) => {
                let opened = served(s, ctx, *customer)?;
                if s.expired {
                    return Err(Rejection::new(
                        ErrorCode::InvalidState,
                        format!("the counter expired at {}", opened.expires_at),
                    ));
                }
                if *by == 0 {
                    return Err(
                        Rejection::new(ErrorCode::InvalidRequest, "by must be at least 1")
                            .with("path", "by"),
                    );
                }
                let total = s
                    .total
                    .checked_add(*by)
                    .filter(|t| *t <= opened.limit)
                    .ok_or_else(|| {
                        Rejection::new(
                            ErrorCode::InvalidState,
                            format!(
                                "the counter is at {} of {}; it cannot go up by {by}",
                                s.total, opened.limit
                            ),
                        )
                        .with("limit", opened.limit)
                    })?;
                Ok(vec![CounterIncremented {
                    customer: *customer,
                    by: *by,
                    total,
                }
                .into()])
            }
        }
    }

    fn evolve(s: &mut CounterState, e: &Event) {
        match e {
            Event::CounterOpened(o) => s.opened = Some(o.clone()),
            Event::CounterIncremented(i) => s.total = i.total,
            Event::CounterExpired(_) => s.expired = true,
            _ => {}
        }
    }

    fn next_due(s: &CounterState) -> Option<Due<Event>> {
        let opened = s.opened.as_ref()?;
        if s.expired {
            return None;
        }
        Some(Due {
            stream: csp_events::counter::stream(opened.customer),
            key: "expiry".into(),
            at: opened.expires_at,
            event: CounterExpired {
                customer: opened.customer,
                total: s.total,
            }
            .into(),
        })
    }
}

/// When a counter expires, for views.
pub fn expires_at(s: &CounterState) -> Option<Timestamp> {
    s.opened.as_ref().map(|o| o.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use csp_events::kernel::spec::Spec;
    use csp_events::Actor;
    use uuid::Uuid;

    const P: TenantId = TenantId(Uuid::from_u128(1));
    const OTHER: TenantId = TenantId(Uuid::from_u128(2));
    const C: TenantId = TenantId(Uuid::from_u128(3));

    fn ctx(partner: TenantId, role: Role, hour: u32) -> Context {
        Context {
            now: Timestamp::ymd_hms(2026, 1, 1, hour, 0, 0).unwrap(),
            actor: Actor {
                kind: ActorKind::Partner,
                tenant: partner,
                user: "u".into(),
                roles: vec![role],
            },
            seed: Uuid::from_u128(9),
            entropy: [0; 32],
        }
    }

    fn opened() -> Event {
        CounterOpened {
            customer: C,
            partner: P,
            limit: 10,
            expires_at: Timestamp::ymd_hms(2026, 1, 1, 5, 0, 0).unwrap(),
        }
        .into()
    }

    fn inc(by: u64) -> CounterCommand {
        CounterCommand::Increment(Increment {
            request_id: csp_events::RequestId::new("r-1").unwrap(),
            customer: C,
            by,
        })
    }

    #[test]
    fn counts_up_to_the_limit() {
        Spec::<Counter>::given([opened()])
            .when(&inc(10), &ctx(P, Role::AdminAgent, 1))
            .then(&[CounterIncremented {
                customer: C,
                by: 10,
                total: 10,
            }
            .into()]);
        Spec::<Counter>::given([opened()])
            .when(&inc(11), &ctx(P, Role::AdminAgent, 1))
            .then_reject(ErrorCode::InvalidState);
    }

    #[test]
    fn another_partner_or_role_is_forbidden() {
        let r = Spec::<Counter>::given([opened()])
            .when(&inc(1), &ctx(OTHER, Role::AdminAgent, 1))
            .then_reject(ErrorCode::Forbidden);
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(C));
        Spec::<Counter>::given([opened()])
            .when(&inc(1), &ctx(P, Role::SalesAgent, 1))
            .then_reject(ErrorCode::Forbidden);
    }

    #[test]
    fn expiry_is_applied_before_judging() {
        let out = Spec::<Counter>::given([opened()]).when(&inc(1), &ctx(P, Role::AdminAgent, 6));
        let r = out.result.unwrap_err();
        assert_eq!(r.code, ErrorCode::InvalidState);
        // At 04:00 the counter is still open.
        Spec::<Counter>::given([opened()])
            .when(&inc(1), &ctx(P, Role::AdminAgent, 4))
            .then(&[CounterIncremented {
                customer: C,
                by: 1,
                total: 1,
            }
            .into()]);
    }
}
