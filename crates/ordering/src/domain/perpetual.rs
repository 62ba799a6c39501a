//! A perpetual purchase: bought once by an order line (rule O3), cancellable within 720 hours of
//! its purchase (rule O10), chosen by its order id. The cancelled purchase stays listed on the
//! Software page (its keys are revoked by entitlement, RULES.md K8) and is credited in full (B5).

use csp_events::kernel::{Context, Decider, Rejection};
use csp_events::ordering::{PerpetualCancelled, PerpetualPurchased};
use csp_events::{ErrorCode, Event, ItemRef, OrderId, Timestamp};
use serde::Serialize;

use super::access::{partner_for, Scope, Target, SUBSCRIPTION_ADMINS};

/// A perpetual purchase after its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Perp {
    /// As purchased.
    pub purchased: PerpetualPurchased,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<Timestamp>,
}

/// A perpetual purchase's state: `None` until bought.
pub type PerpetualState = Option<Perp>;

/// Cancel the perpetual purchase of order `order` (rule O10: chosen by order id; an order's
/// several purchases and several orders are each asked on their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelPerpetual {
    /// The customer, as named.
    pub target: Target,
    /// The order the purchase belongs to.
    pub order: OrderId,
}

/// The perpetual-purchase decider.
pub struct Perpetual;

impl Decider for Perpetual {
    type State = PerpetualState;
    type Command = CancelPerpetual;
    type Event = Event;

    fn decide(
        s: &PerpetualState,
        c: &CancelPerpetual,
        ctx: &Context,
    ) -> Result<Vec<Event>, Rejection> {
        let scope = Scope::Partner(partner_for(
            ctx,
            &c.target,
            &SUBSCRIPTION_ADMINS,
            "cancel a purchase",
        )?);
        let missing = || {
            Rejection::new(
                ErrorCode::NotFound,
                format!(
                    "customer {} has no perpetual purchase in order {}; its order history lists its orders",
                    c.target.named, c.order
                ),
            )
            .with("order_id", c.order.to_string())
        };
        let found = s.as_ref().filter(|p| p.purchased.order == c.order);
        let owner = |p: &&Perp| (p.purchased.customer, p.purchased.partner);
        let p = scope.find(found, owner, ItemRef::new("order", c.order), missing)?;
        if let Some(at) = p.cancelled_at {
            return Err(Rejection::new(
                ErrorCode::InvalidState,
                format!("the purchase of order {} was cancelled at {at}", c.order),
            )
            .with("order_id", c.order.to_string()));
        }
        let Some(window_end) = p.purchased.cancellable_until else {
            return Err(Rejection::new(
                ErrorCode::NotCancellable,
                format!("{} can never be cancelled", p.purchased.product_name),
            )
            .with("order_id", c.order.to_string()));
        };
        // Rule O10: purchase time + 720 h, exclusive.
        if ctx.now >= window_end {
            return Err(Rejection::new(
                ErrorCode::CancellationWindowClosed,
                format!(
                    "the purchase of order {} can no longer be cancelled: its window closed at {window_end}, 30 days after the purchase; file a refund request instead",
                    c.order
                ),
            )
            .with("window_ends_at", window_end.to_string())
            .with("order_id", c.order.to_string()));
        }
        Ok(vec![PerpetualCancelled {
            purchase: p.purchased.purchase,
            order: p.purchased.order,
            customer: p.purchased.customer,
            partner: p.purchased.partner,
            price: p.purchased.price,
            cancelled_at: ctx.now,
        }
        .into()])
    }

    fn evolve(s: &mut PerpetualState, e: &Event) {
        match e {
            Event::PerpetualPurchased(p) => {
                *s = Some(Perp {
                    purchased: p.clone(),
                    cancelled_at: None,
                })
            }
            Event::PerpetualCancelled(c) => {
                if let Some(p) = s {
                    if p.purchased.purchase == c.purchase {
                        p.cancelled_at = Some(c.cancelled_at);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_events::kernel::spec::Spec;
    use csp_events::ordering::PerpetualPurchased;
    use csp_events::Role;

    fn bought_now() -> PerpetualPurchased {
        purchased(&bought(vec![sql_perpetual(2)], now()))
    }

    fn cancel(p: &PerpetualPurchased) -> CancelPerpetual {
        CancelPerpetual {
            target: contoso_target(),
            order: p.order,
        }
    }

    fn cancelled(p: &PerpetualPurchased, at: Timestamp) -> Event {
        PerpetualCancelled {
            purchase: p.purchase,
            order: p.order,
            customer: p.customer,
            partner: p.partner,
            price: p.price,
            cancelled_at: at,
        }
        .into()
    }

    #[test]
    fn rule_o10_cancel_at_719h59m59s_is_accepted() {
        let p = bought_now();
        let t = after(p.purchased_at, 719, 59, 59);
        Spec::<Perpetual>::given([p.clone().into()])
            .when(&cancel(&p), &ctx_partner(Role::AdminAgent, t))
            .then(&[cancelled(&p, t)]);
    }

    #[test]
    fn rule_o10_cancel_at_exactly_720h_is_refused() {
        let p = bought_now();
        let r = Spec::<Perpetual>::given([p.clone().into()])
            .when(
                &cancel(&p),
                &ctx_partner(Role::AdminAgent, after(p.purchased_at, 720, 0, 0)),
            )
            .then_reject(ErrorCode::CancellationWindowClosed);
        assert_eq!(r.details["window_ends_at"], "2026-12-02T09:00:00Z");
        assert_eq!(r.details["order_id"], p.order.to_string());
    }

    #[test]
    fn rule_o10_the_purchase_is_chosen_by_its_order_id() {
        let p = bought_now();
        let other = bought_now_other_order();
        Spec::<Perpetual>::given([p.clone().into()])
            .when(
                &CancelPerpetual {
                    target: contoso_target(),
                    order: other,
                },
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::NotFound);
    }

    fn bought_now_other_order() -> OrderId {
        OrderId(uuid::Uuid::from_u128(0xdead))
    }

    #[test]
    fn rule_o10_only_an_admin_agent_cancels() {
        let p = bought_now();
        let r = Spec::<Perpetual>::given([p.clone().into()])
            .when(&cancel(&p), &ctx_partner(Role::GlobalAdmin, now()))
            .then_reject(ErrorCode::Forbidden);
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
    }

    #[test]
    fn rule_o10_a_cancelled_purchase_is_not_cancelled_twice() {
        let p = bought_now();
        Spec::<Perpetual>::given([p.clone().into(), cancelled(&p, now())])
            .when(
                &cancel(&p),
                &ctx_partner(Role::AdminAgent, after(now(), 1, 0, 0)),
            )
            .then_reject(ErrorCode::InvalidState);
    }
}
