//! "When does the cancellation window end, and has it passed?" (rule O11), asked before
//! cancelling. The answer is computed exactly as a cancel would be judged: due transitions first
//! (a renewal reopens the window), then the window of the current term, exclusive at its end.

use csp_events::kernel::{apply_due, Context, Rejection};
use csp_events::ordering::{LineItem, Status as ItemStatus, WindowInfo};
use csp_events::{ErrorCode, ItemRef, OrderId, SubscriptionId, Timestamp};

use super::access::{partner_for, Scope, Target, BUYERS};
use super::perpetual::{Perp, PerpetualState};
use super::subscription::{Status, Sub, Subscription, SubscriptionState};

fn window(item: LineItem, order: OrderId, end: Option<Timestamp>, now: Timestamp) -> WindowInfo {
    let remaining = end.map_or(0, |e| e.since(now).num_seconds().max(0));
    WindowInfo {
        item,
        order,
        cancellable: end.is_some(),
        window_ends_at: end,
        passed: end.is_none_or(|e| now >= e),
        seconds_remaining: remaining,
        status: ItemStatus::Active,
        term_number: 0,
    }
}

/// Who may ask: the partner users who buy or cancel for the customer (a choice: the answer is
/// for the canceller, `admin_agent`, and the buyers who may ask it to act).
pub fn may_ask(target: &Target, ctx: &Context) -> Result<Scope, Rejection> {
    let relationship = partner_for(ctx, target, &BUYERS, "ask about a cancellation window")?;
    Ok(Scope::Partner(relationship))
}

/// The window of subscription `id` at `ctx.now`, after any term end already due.
pub fn subscription_window(
    s: &SubscriptionState,
    target: &Target,
    id: SubscriptionId,
    ctx: &Context,
) -> Result<WindowInfo, Rejection> {
    let scope = may_ask(target, ctx)?;
    let mut now_state = s.clone();
    apply_due::<Subscription>(&mut now_state, ctx.now);
    let missing = || {
        let message = format!("customer {} has no subscription {id}", target.named);
        Rejection::new(ErrorCode::NotFound, message)
    };
    let found = now_state.as_ref().filter(|sub| sub.id() == id);
    let owner = |sub: &&Sub| (sub.started.customer, sub.started.partner);
    let sub = scope.find(found, owner, ItemRef::new("subscription", id), missing)?;
    let mut info = window(
        LineItem::Subscription(id),
        sub.started.order,
        sub.cancellable_until,
        ctx.now,
    );
    info.term_number = sub.term_number;
    info.status = match sub.status {
        Status::Active => ItemStatus::Active,
        Status::Cancelled { .. } => ItemStatus::Cancelled,
        Status::Expired { .. } => ItemStatus::Expired,
    };
    if sub.status != Status::Active {
        info.passed = true;
        info.seconds_remaining = 0;
    }
    Ok(info)
}

/// The windows of the perpetual purchases of order `order` (one per perpetual line).
pub fn order_windows<'a>(
    purchases: impl IntoIterator<Item = &'a PerpetualState>,
    target: &Target,
    order: OrderId,
    ctx: &Context,
) -> Result<Vec<WindowInfo>, Rejection> {
    let scope = may_ask(target, ctx)?;
    let of_order: Vec<_> = purchases
        .into_iter()
        .flatten()
        .filter(|p| p.purchased.order == order)
        .collect();
    let missing = || {
        let message = format!(
            "customer {} has no perpetual purchase in order {order}",
            target.named
        );
        Rejection::new(ErrorCode::NotFound, message)
    };
    // The order's purchases are all one sale: seen whole, or not at all.
    let owner = |p: &&Perp| (p.purchased.customer, p.purchased.partner);
    scope.find(
        of_order.first().copied(),
        owner,
        ItemRef::new("order", order),
        missing,
    )?;
    let out: Vec<WindowInfo> = of_order
        .into_iter()
        .map(|p| {
            let mut info = window(
                LineItem::Perpetual(p.purchased.purchase),
                order,
                p.purchased.cancellable_until,
                ctx.now,
            );
            if p.cancelled_at.is_some() {
                info.status = ItemStatus::Cancelled;
                info.passed = true;
                info.seconds_remaining = 0;
            }
            info
        })
        .collect();
    if out.is_empty() {
        return Err(Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no perpetual purchase in order {order}",
                target.named
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::kernel::Decider;
    use csp_events::{Event, Role};

    fn fold<D: Decider<Event = Event>>(events: &[Event]) -> D::State {
        let mut s = D::State::default();
        for e in events {
            D::evolve(&mut s, e);
        }
        s
    }

    #[test]
    fn rule_o11_before_cancelling_an_actor_learns_when_the_window_ends_and_whether_it_passed() {
        // given a subscription bought now
        let s = started(&bought(vec![ws_p1y(1)], now()));
        let state = fold::<Subscription>(&[s.clone().into()]);
        let ends = after(now(), 168, 0, 0);
        // when asked 100 hours in, then the window is open, with 68 hours left
        let info = subscription_window(
            &state,
            &contoso_target(),
            s.subscription,
            &ctx_partner(Role::AdminAgent, after(now(), 100, 0, 0)),
        )
        .unwrap();
        assert_eq!(
            (info.window_ends_at, info.passed, info.seconds_remaining),
            (Some(ends), false, 68 * 3600)
        );
        // when asked at the end, then it has passed
        let info = subscription_window(
            &state,
            &contoso_target(),
            s.subscription,
            &ctx_partner(Role::AdminAgent, ends),
        )
        .unwrap();
        assert_eq!((info.passed, info.seconds_remaining), (true, 0));
        // when asked after a renewal, then the new term's window is open again
        let t = after(s.term_end, 2, 0, 0);
        let info = subscription_window(
            &state,
            &contoso_target(),
            s.subscription,
            &ctx_partner(Role::AdminAgent, t),
        )
        .unwrap();
        assert_eq!((info.term_number, info.passed), (2, false));
        assert_eq!(info.window_ends_at, Some(after(s.term_end, 168, 0, 0)));
    }

    #[test]
    fn rule_o11_a_perpetual_orders_window_and_days_remaining() {
        // given a perpetual purchase
        let p = purchased(&bought(vec![sql_perpetual(1)], now()));
        let state = fold::<crate::domain::perpetual::Perpetual>(&[p.clone().into()]);
        // when asked 10 days in, then 20 days remain
        let info = order_windows(
            [&state],
            &contoso_target(),
            p.order,
            &ctx_partner(Role::AdminAgent, after(now(), 240, 0, 0)),
        )
        .unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].seconds_remaining, 480 * 3600);
        assert!(!info[0].passed);
        // when asked at 720 h, then it has passed
        let info = order_windows(
            [&state],
            &contoso_target(),
            p.order,
            &ctx_partner(Role::AdminAgent, after(now(), 720, 0, 0)),
        )
        .unwrap();
        assert!(info[0].passed);
    }

    #[test]
    fn rule_o11_a_never_cancellable_plan_says_so() {
        let s = started(&bought(
            vec![line(
                "rhel-software-plan",
                "1-4-vcpu-p1y",
                1,
                csp_events::ordering::Term::P1Y,
                csp_events::ordering::BillingPlan::Annual,
            )],
            now(),
        ));
        let state = fold::<Subscription>(&[s.clone().into()]);
        let info = subscription_window(
            &state,
            &contoso_target(),
            s.subscription,
            &ctx_partner(Role::AdminAgent, now()),
        )
        .unwrap();
        assert_eq!(
            (info.cancellable, info.window_ends_at, info.passed),
            (false, None, true)
        );
        let r = subscription_window(
            &state,
            &contoso_target(),
            s.subscription,
            &ctx_partner(Role::SalesAgent, now()),
        )
        .unwrap_err();
        assert_eq!(r.code, csp_events::ErrorCode::Forbidden);
    }
}
