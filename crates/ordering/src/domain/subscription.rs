//! A subscription (software subscription or Azure Reservation) through its terms: started by
//! its order line, renewed or expired at each term end (rules O6, O7), switched (auto-renew,
//! rule O7) and cancelled inside the window of its current term (rules O8, O9).
//!
//! A term end is a due transition ([`Decider::next_due`]): the scheduler records it with a
//! deterministic id and its true `effective_at` (the term end, however late the scheduler runs),
//! and `decide_at` applies every transition already due before judging a command, so a cancel
//! that arrives after a term end is judged against the new term. A renewal keeps the length,
//! plan and price recorded at purchase, and the window of the policy it was sold under.

use csp_events::kernel::{Context, Decider, Due, Rejection};
use csp_events::ordering::{
    stream, AutoRenewChanged, BillingPlan, SubscriptionCancelled, SubscriptionExpired,
    SubscriptionRenewed, SubscriptionStarted,
};
use csp_events::{ErrorCode, Event, ItemRef, Money, SubscriptionId, Timestamp};
use serde::Serialize;

use super::access::{partner_for, Scope, Target, SUBSCRIPTION_ADMINS};
use super::term::term_end;

/// Where a subscription is. Exactly one at a time, by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In a term.
    Active,
    /// Cancelled inside a window, at `at`.
    Cancelled {
        /// When.
        at: Timestamp,
    },
    /// Its last term ended without renewal, at `at`.
    Expired {
        /// The end of the last term.
        at: Timestamp,
    },
}

/// A subscription's state after its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sub {
    /// The first term's facts, as recorded at purchase (price, policy, customer...).
    pub started: SubscriptionStarted,
    /// 1 for the first term.
    pub term_number: u32,
    /// Current term start.
    pub term_start: Timestamp,
    /// Current term end (exclusive).
    pub term_end: Timestamp,
    /// Current plan.
    pub billing_plan: BillingPlan,
    /// Current term's price.
    pub term_price: Money,
    /// End (exclusive) of the current term's window; `None`: never cancellable (rule O9).
    pub cancellable_until: Option<Timestamp>,
    /// Whether it renews at the term end.
    pub auto_renew: bool,
    /// Active, cancelled or expired.
    pub status: Status,
}

impl Sub {
    /// Its id.
    pub fn id(&self) -> SubscriptionId {
        self.started.subscription
    }
}

/// A subscription's state: `None` until its `SubscriptionStarted`.
pub type SubscriptionState = Option<Sub>;

/// The partner that sold a subscription: its events after the start do not name it, so the
/// runtime records them for this one.
pub fn partner(s: &SubscriptionState) -> Option<csp_events::TenantId> {
    s.as_ref().map(|s| s.started.partner)
}

/// What is asked of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionCommand {
    /// Turn auto-renew on or off (rule O7).
    SetAutoRenew {
        /// The customer, as named.
        target: Target,
        /// The subscription.
        subscription: SubscriptionId,
        /// The new setting.
        auto_renew: bool,
    },
    /// Cancel inside the current term's window (rule O8).
    Cancel {
        /// The customer, as named.
        target: Target,
        /// The subscription.
        subscription: SubscriptionId,
    },
}

/// The subscription decider.
pub struct Subscription;

/// Finds the subscription `id` of the target's customer, for an `admin_agent` of the partner
/// that sold it (another partner's subscription is `not_found`, as if it did not exist).
fn own<'a>(
    s: &'a SubscriptionState,
    target: &Target,
    id: SubscriptionId,
    action: &str,
    ctx: &Context,
) -> Result<&'a Sub, Rejection> {
    let scope = Scope::Partner(partner_for(ctx, target, &SUBSCRIPTION_ADMINS, action)?);
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no subscription {id}; get_subscriptions lists its subscriptions",
                target.named
            ),
        )
    };
    let found = s.as_ref().filter(|sub| sub.id() == id);
    let owner = |sub: &&Sub| (sub.started.customer, sub.started.partner);
    scope.find(found, owner, ItemRef::new("subscription", id), missing)
}

fn not_active(sub: &Sub) -> Rejection {
    let message = match sub.status {
        Status::Cancelled { at } => format!("subscription {} was cancelled at {at}", sub.id()),
        Status::Expired { at } => format!(
            "subscription {} expired at {at}; buy a new one instead",
            sub.id()
        ),
        Status::Active => format!("subscription {} is active", sub.id()),
    };
    Rejection::new(ErrorCode::InvalidState, message)
}

impl Decider for Subscription {
    type State = SubscriptionState;
    type Command = SubscriptionCommand;
    type Event = Event;

    fn decide(
        s: &SubscriptionState,
        c: &SubscriptionCommand,
        ctx: &Context,
    ) -> Result<Vec<Event>, Rejection> {
        match c {
            SubscriptionCommand::SetAutoRenew {
                target,
                subscription,
                auto_renew,
            } => {
                let sub = own(s, target, *subscription, "switch auto-renew", ctx)?;
                if sub.status != Status::Active {
                    return Err(not_active(sub));
                }
                if *auto_renew && sub.started.before_cutover {
                    return Err(Rejection::new(
                        ErrorCode::AutorenewUnavailable,
                        format!(
                            "subscription {} was bought before the cut-over ({}), so it never renews and expires at {}; buy a new subscription to continue",
                            sub.id(),
                            sub.started.term_start,
                            sub.term_end
                        ),
                    )
                    .with("term_end", sub.term_end.to_string()));
                }
                if sub.auto_renew == *auto_renew {
                    // Already so: nothing changes, nothing is recorded.
                    return Ok(vec![]);
                }
                Ok(vec![AutoRenewChanged {
                    subscription: sub.id(),
                    customer: sub.started.customer,
                    partner: sub.started.partner,
                    auto_renew: *auto_renew,
                }
                .into()])
            }
            SubscriptionCommand::Cancel {
                target,
                subscription,
            } => {
                let sub = own(s, target, *subscription, "cancel a subscription", ctx)?;
                if sub.status != Status::Active {
                    return Err(not_active(sub));
                }
                // Rule O9: no window at all.
                let Some(window_end) = sub.cancellable_until else {
                    return Err(Rejection::new(
                        ErrorCode::NotCancellable,
                        format!(
                            "{} can never be cancelled or exchanged; turn auto-renew off so it ends at {}",
                            sub.started.product_name, sub.term_end
                        ),
                    ));
                };
                // Rule O8: the window ends at term start + 168 h, exclusive.
                if ctx.now >= window_end {
                    return Err(Rejection::new(
                        ErrorCode::CancellationWindowClosed,
                        format!(
                            "the cancellation window of term {} (started {}) closed at {}; turn auto-renew off so it ends at {}, or file a refund request",
                            sub.term_number, sub.term_start, window_end, sub.term_end
                        ),
                    )
                    .with("window_ends_at", window_end.to_string()));
                }
                Ok(vec![SubscriptionCancelled {
                    subscription: sub.id(),
                    order: sub.started.order,
                    customer: sub.started.customer,
                    partner: sub.started.partner,
                    term_number: sub.term_number,
                    term_start: sub.term_start,
                    term_end: sub.term_end,
                    term_price: sub.term_price,
                    billing_plan: sub.billing_plan,
                    cancelled_at: ctx.now,
                }
                .into()])
            }
        }
    }

    fn evolve(s: &mut SubscriptionState, e: &Event) {
        if let Event::SubscriptionStarted(st) = e {
            *s = Some(Sub {
                started: st.clone(),
                term_number: 1,
                term_start: st.term_start,
                term_end: st.term_end,
                billing_plan: st.billing_plan,
                term_price: st.term_price,
                cancellable_until: st.cancellable_until,
                auto_renew: st.auto_renew,
                status: Status::Active,
            });
            return;
        }
        let Some(sub) = s else { return };
        match e {
            Event::SubscriptionRenewed(r) if r.subscription == sub.id() => {
                sub.term_number = r.term_number;
                sub.term_start = r.term_start;
                sub.term_end = r.term_end;
                sub.billing_plan = r.billing_plan;
                sub.term_price = r.term_price;
                sub.cancellable_until = r.cancellable_until;
            }
            Event::SubscriptionExpired(x) if x.subscription == sub.id() => {
                sub.status = Status::Expired { at: x.expired_at };
            }
            Event::AutoRenewChanged(a) if a.subscription == sub.id() => {
                sub.auto_renew = a.auto_renew;
            }
            Event::SubscriptionCancelled(c) if c.subscription == sub.id() => {
                sub.status = Status::Cancelled { at: c.cancelled_at };
            }
            _ => {}
        }
    }

    /// The end of the current term: a renewal if it auto-renews (never before the cut-over,
    /// rule O6), an expiry otherwise (rule O7). Keyed `term-end/<n>`, so each term end has one id.
    fn next_due(s: &SubscriptionState) -> Option<Due<Event>> {
        let sub = s.as_ref()?;
        if sub.status != Status::Active {
            return None;
        }
        let at = sub.term_end;
        let renews = sub.auto_renew && !sub.started.before_cutover;
        let event: Event = match (renews, term_end(at, sub.started.term)) {
            (true, Some(next_end)) => {
                let window = sub.started.policy.cancellation_window_hours;
                SubscriptionRenewed {
                    subscription: sub.id(),
                    customer: sub.started.customer,
                    partner: sub.started.partner,
                    term_number: sub.term_number.saturating_add(1),
                    term_start: at,
                    term_end: next_end,
                    billing_plan: sub.billing_plan,
                    term_price: sub.term_price,
                    cancellable_until: window.and_then(|h| at.plus_hours(h)),
                }
                .into()
            }
            // No renewal, or a next term past the calendar's end: it ends here.
            _ => SubscriptionExpired {
                subscription: sub.id(),
                customer: sub.started.customer,
                partner: sub.started.partner,
                expired_at: at,
            }
            .into(),
        };
        Some(Due {
            stream: stream::subscription(sub.id()),
            key: format!("term-end/{}", sub.term_number),
            at,
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::kernel::spec::Spec;
    use csp_events::ordering::{BillingPlan as Plan, Term};
    use csp_events::{Currency, EventId, Role};

    fn sub_bought_now() -> SubscriptionStarted {
        started(&bought(vec![ws_p1y(2)], now()))
    }

    fn cancel(s: &SubscriptionStarted) -> SubscriptionCommand {
        SubscriptionCommand::Cancel {
            target: contoso_target(),
            subscription: s.subscription,
        }
    }

    fn auto_renew(s: &SubscriptionStarted, on: bool) -> SubscriptionCommand {
        SubscriptionCommand::SetAutoRenew {
            target: contoso_target(),
            subscription: s.subscription,
            auto_renew: on,
        }
    }

    fn cancelled(
        s: &SubscriptionStarted,
        term_number: u32,
        start: Timestamp,
        end: Timestamp,
        at: Timestamp,
    ) -> Event {
        SubscriptionCancelled {
            subscription: s.subscription,
            order: s.order,
            customer: s.customer,
            partner: s.partner,
            term_number,
            term_start: start,
            term_end: end,
            term_price: s.term_price,
            billing_plan: s.billing_plan,
            cancelled_at: at,
        }
        .into()
    }

    fn admin(at: Timestamp) -> csp_events::kernel::Context {
        ctx_partner(Role::AdminAgent, at)
    }

    #[test]
    fn rule_o8_cancel_at_167h59m59s_is_accepted() {
        let s = sub_bought_now();
        let t = after(s.term_start, 167, 59, 59);
        Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(t))
            .then(&[cancelled(&s, 1, s.term_start, s.term_end, t)]);
    }

    #[test]
    fn rule_o8_cancel_at_exactly_168h_is_refused_giving_the_window_end() {
        let s = sub_bought_now();
        let t = after(s.term_start, 168, 0, 0);
        let r = Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(t))
            .then_reject(ErrorCode::CancellationWindowClosed);
        assert_eq!(r.details["window_ends_at"], "2026-11-09T09:00:00Z");
        assert!(
            r.message.contains("refund request"),
            "says what to do instead: {}",
            r.message
        );
    }

    #[test]
    fn rule_o8_every_subscription_shows_when_its_window_ends() {
        let s = sub_bought_now();
        assert_eq!(s.cancellable_until, Some(after(s.term_start, 168, 0, 0)));
        let out = Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, true), &admin(now()));
        assert_eq!(
            out.state.and_then(|x| x.cancellable_until),
            s.cancellable_until
        );
    }

    #[test]
    fn rule_o8_a_renewal_reopens_the_window() {
        let s = sub_bought_now();
        let term2 = s.term_end;
        let t = after(term2, 1, 0, 0);
        let out = Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(t))
            .then(&[cancelled(&s, 2, term2, at(2028, 11, 2, 9, 0, 0), t)]);
        let d = out.result.unwrap();
        assert_eq!(d.transitions.len(), 1);
        let Event::SubscriptionRenewed(r) = &d.transitions[0].event else {
            panic!()
        };
        assert_eq!((r.term_number, r.term_start), (2, term2));
        assert_eq!(r.cancellable_until, Some(after(term2, 168, 0, 0)));
    }

    #[test]
    fn rule_o8_a_cancel_after_a_term_end_is_judged_against_the_new_term() {
        // The first term's window closed a year ago; a cancel 200 h into the second term is
        // refused with the *second* term's window end, 167:59:59 in is accepted.
        let s = sub_bought_now();
        let term2 = s.term_end;
        let r = Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(after(term2, 200, 0, 0)))
            .then_reject(ErrorCode::CancellationWindowClosed);
        assert_eq!(
            r.details["window_ends_at"],
            after(term2, 168, 0, 0).to_string()
        );
        let t = after(term2, 167, 59, 59);
        Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(t))
            .then(&[cancelled(&s, 2, term2, at(2028, 11, 2, 9, 0, 0), t)]);
    }

    #[test]
    fn rule_o8_only_an_admin_agent_cancels() {
        let s = sub_bought_now();
        for role in [Role::GlobalAdmin, Role::SalesAgent, Role::HelpdeskAgent] {
            let r = Spec::<Subscription>::given([s.clone().into()])
                .when(&cancel(&s), &ctx_partner(role, after(now(), 1, 0, 0)))
                .then_reject(ErrorCode::Forbidden);
            assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
        }
        // Another partner's admin agent may not know the customer exists.
        Spec::<Subscription>::given([s.clone().into()])
            .when(
                &cancel(&s),
                &ctx(partner_actor(OTHER_PARTNER, Role::AdminAgent), now()),
            )
            .then_reject(ErrorCode::NotFound);
    }

    #[test]
    fn rule_o8_an_azure_reservation_has_the_168_hour_window_too() {
        // A choice (the source gives reservations no window): see crate docs.
        let s = started(&bought(vec![reservation_p1y()], now()));
        Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(after(now(), 167, 59, 59)))
            .then_with(|e| assert_eq!(e.len(), 1));
        Spec::<Subscription>::given([s.clone().into()])
            .when(&cancel(&s), &admin(after(now(), 168, 0, 0)))
            .then_reject(ErrorCode::CancellationWindowClosed);
    }

    #[test]
    fn rule_o9_redhat_and_suse_plans_can_never_be_cancelled() {
        for (product, sku) in [
            ("rhel-software-plan", "1-4-vcpu-p1y"),
            ("sles-software-plan", "1-2-vcpu-p1y"),
        ] {
            let s = started(&bought(
                vec![line(product, sku, 1, Term::P1Y, Plan::Annual)],
                now(),
            ));
            assert_eq!(s.cancellable_until, None);
            assert_eq!(s.policy.cancellation_window_hours, None);
            for t in [now(), after(now(), 0, 0, 1), after(now(), 24 * 400, 0, 0)] {
                let r = Spec::<Subscription>::given([s.clone().into()])
                    .when(&cancel(&s), &admin(t))
                    .then_reject(ErrorCode::NotCancellable);
                assert!(r.message.contains("auto-renew"), "{}", r.message);
            }
        }
    }

    #[test]
    fn rule_o7_an_admin_agent_turns_auto_renew_off_and_on() {
        let s = sub_bought_now();
        let off: Event = AutoRenewChanged {
            subscription: s.subscription,
            customer: CONTOSO,
            partner: PARTNER,
            auto_renew: false,
        }
        .into();
        Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, false), &admin(now()))
            .then(std::slice::from_ref(&off));
        Spec::<Subscription>::given([s.clone().into(), off.clone()])
            .when(&auto_renew(&s, true), &admin(now()))
            .then(&[AutoRenewChanged {
                subscription: s.subscription,
                customer: CONTOSO,
                partner: PARTNER,
                auto_renew: true,
            }
            .into()]);
        // Asking for what is already so records nothing.
        Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, true), &admin(now()))
            .then(&[]);
        Spec::<Subscription>::given([s.clone().into()])
            .when(
                &auto_renew(&s, false),
                &ctx_partner(Role::GlobalAdmin, now()),
            )
            .then_reject(ErrorCode::Forbidden);
    }

    #[test]
    fn rule_o7_at_the_term_end_an_auto_renewing_subscription_starts_a_term_of_the_same_length_and_plan(
    ) {
        let s = started(&bought(
            vec![line(
                "sql-server-2022-standard",
                "2-core-p3y",
                4,
                Term::P3Y,
                Plan::Triennial,
            )],
            now(),
        ));
        let end = s.term_end;
        assert_eq!(end, at(2029, 11, 2, 9, 0, 0));
        let out = Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, true), &admin(end));
        let d = out.result.unwrap();
        let t = &d.transitions[0];
        assert_eq!(t.effective_at, end, "the true business time");
        assert_eq!(
            t.id,
            EventId::scheduled(
                &stream::subscription(s.subscription),
                "term-end/1",
                end.as_micros()
            )
        );
        assert_eq!(
            t.event,
            SubscriptionRenewed {
                subscription: s.subscription,
                customer: CONTOSO,
                partner: PARTNER,
                term_number: 2,
                term_start: end,
                term_end: at(2032, 11, 2, 9, 0, 0),
                billing_plan: Plan::Triennial,
                term_price: Money::new(4 * 425_400, Currency::USD),
                cancellable_until: Some(after(end, 168, 0, 0)),
            }
            .into()
        );
    }

    #[test]
    fn rule_o7_without_auto_renew_it_expires_at_the_term_end() {
        let s = sub_bought_now();
        let off: Event = AutoRenewChanged {
            subscription: s.subscription,
            customer: CONTOSO,
            partner: PARTNER,
            auto_renew: false,
        }
        .into();
        let late = after(s.term_end, 24 * 30, 0, 0);
        let out =
            Spec::<Subscription>::given([s.clone().into(), off]).when(&cancel(&s), &admin(late));
        assert_eq!(
            out.result.unwrap_err().code,
            ErrorCode::InvalidState,
            "an expired subscription cannot be cancelled"
        );
        let mut st = None;
        Subscription::evolve(&mut st, &s.clone().into());
        Subscription::evolve(
            &mut st,
            &AutoRenewChanged {
                subscription: s.subscription,
                customer: CONTOSO,
                partner: PARTNER,
                auto_renew: false,
            }
            .into(),
        );
        let due = Subscription::next_due(&st).unwrap();
        assert_eq!(due.at, s.term_end);
        assert_eq!(
            due.event,
            SubscriptionExpired {
                subscription: s.subscription,
                customer: CONTOSO,
                partner: PARTNER,
                expired_at: s.term_end
            }
            .into()
        );
        Subscription::evolve(&mut st, &due.event);
        assert_eq!(Subscription::next_due(&st), None, "nothing after the end");
    }

    #[test]
    fn rule_o6_a_pre_cutover_subscription_never_auto_renews_and_expires_at_its_term_end() {
        let s = started(&backfilled(
            vec![ws_p1y(1)],
            at(2021, 10, 13, 15, 30, 0),
            now(),
        ));
        let r = Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, true), &admin(at(2022, 1, 1, 0, 0, 0)))
            .then_reject(ErrorCode::AutorenewUnavailable);
        assert!(
            r.message.contains("expires at 2022-10-13T15:30:00Z"),
            "{}",
            r.message
        );
        // At its term end it expires: no renewal is ever due.
        let out = Spec::<Subscription>::given([s.clone().into()])
            .when(&auto_renew(&s, false), &admin(now()));
        let r = out.result.unwrap_err();
        assert_eq!(r.code, ErrorCode::InvalidState);
        let mut st = None;
        Subscription::evolve(&mut st, &s.clone().into());
        let due = csp_events::kernel::apply_due::<Subscription>(&mut st, now());
        assert_eq!(due.len(), 1);
        assert!(matches!(due[0].event, Event::SubscriptionExpired(_)));
        assert_eq!(due[0].effective_at, at(2022, 10, 13, 15, 30, 0));
    }

    #[test]
    fn a_cancelled_subscription_answers_invalid_state_and_never_renews() {
        let s = sub_bought_now();
        let c = cancelled(&s, 1, s.term_start, s.term_end, after(now(), 1, 0, 0));
        Spec::<Subscription>::given([s.clone().into(), c.clone()])
            .when(&cancel(&s), &admin(after(now(), 2, 0, 0)))
            .then_reject(ErrorCode::InvalidState);
        let mut st = None;
        Subscription::evolve(&mut st, &s.into());
        Subscription::evolve(&mut st, &c);
        assert_eq!(Subscription::next_due(&st), None);
    }

    #[test]
    fn a_subscription_of_another_customer_is_not_found() {
        let s = sub_bought_now();
        let other = customer(FABRIKAM, "fabrikam.onmicrosoft.com", "DE", Currency::EUR);
        Spec::<Subscription>::given([s.clone().into()])
            .when(
                &SubscriptionCommand::Cancel {
                    target: target(&other),
                    subscription: s.subscription,
                },
                &admin(now()),
            )
            .then_reject(ErrorCode::NotFound);
    }
}
