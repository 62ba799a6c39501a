//! Orders: placing one now (rule O1), backfilling a historical one (rule O6), and reviewing one
//! before buying (rule O2: priced, each line's billing plans listed, nothing recorded).
//!
//! An order is one customer and one or more lines; each line becomes a subscription (P1Y, P3Y)
//! or a perpetual purchase, both keeping the order's id (rule O3). Placing an order is one
//! decision that writes several streams — `order/<id>` and one `subscription/<id>` or
//! `perpetual/<id>` per line — so a purchase is recorded whole or not at all.

use std::sync::Arc;

use csp_catalog::Catalog;
use csp_events::kernel::{Context, Decider, Rejection};
use csp_events::ordering::{
    CustomerAdded, LineItem, OrderLineRequest, OrderPlaced, PerpetualPurchased, PricedLine,
    ProductKind, Review, ReviewLine, SubscriptionStarted,
};
use csp_events::{ErrorCode, Event, Money, OrderId, PurchaseId, Role, SubscriptionId, Timestamp};

use super::access::{
    invalid_order, partner_for, platform, unknown_customer, Target, BUYERS, REVIEWERS,
};
use super::pricing::{price_line, Priced};
use super::term::{start_of_day, term_end};

/// The most lines one order may have: a bound on work per command, and what keeps the ids an
/// order derives for its lines distinct (`slot × MAX_LINES + line`).
pub const MAX_LINES: u32 = 100;

/// The earliest a backfilled order may be dated: before it, csp has no catalog history to price
/// it with (the catalog's first policy version says the same for the shipped sample).
pub fn earliest_backfill() -> Timestamp {
    Timestamp::ymd_hms(2000, 1, 1, 0, 0, 0).unwrap_or(Timestamp::EPOCH)
}

/// Buy now, or backfill a historical order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOrder {
    /// The customer, as named and resolved.
    pub target: Target,
    /// The lines, as requested.
    pub lines: Vec<OrderLineRequest>,
    /// `None`: bought now by a partner buyer (rule O1). `Some(t)`: a historical order dated `t`,
    /// entered by the platform `importer` (rule O6).
    pub backfill: Option<Timestamp>,
    /// Position of this order within its command (0 for `place_order`; the index within an
    /// `import_orders` batch): distinct slots derive distinct ids from one seed.
    pub slot: u32,
    /// The catalog in force.
    pub catalog: Arc<Catalog>,
}

/// An order's state: the order as placed, once it is.
pub type OrderState = Option<OrderPlaced>;

/// The order decider.
pub struct Order;

/// What line `index` of order `slot` creates.
fn line_ids(
    ctx: &Context,
    slot: u32,
    index: u32,
    kind: ProductKind,
) -> Result<LineItem, Rejection> {
    let n = slot
        .checked_mul(MAX_LINES)
        .and_then(|s| s.checked_add(index))
        .ok_or_else(|| invalid_order("orders", "too many orders in one command"))?;
    Ok(match kind {
        ProductKind::PerpetualSoftware => {
            LineItem::Perpetual(PurchaseId(ctx.new_id("perpetual", n)))
        }
        ProductKind::SoftwareSubscription | ProductKind::AzureReservation => {
            LineItem::Subscription(SubscriptionId(ctx.new_id("subscription", n)))
        }
    })
}

/// Who may place this order and when it is dated: a partner buyer now, or the importer in the
/// past (before today, rule O6).
fn authorize_and_date(
    c: &PlaceOrder,
    ctx: &Context,
) -> Result<(CustomerAdded, Timestamp), Rejection> {
    match c.backfill {
        None => {
            let customer = partner_for(ctx, &c.target, &BUYERS, "buy on a customer's behalf")?;
            Ok((customer, ctx.now))
        }
        Some(at) => {
            platform(
                &ctx.actor,
                Role::Importer,
                "backfill historical orders",
                c.target.customer,
            )?;
            // The shell resolves the selling partner's relationship: the one named, or the
            // customer's only one.
            let customer = match (&c.target.relationship, c.target.customer) {
                (Some(r), _) => r.clone(),
                (None, None) => return Err(unknown_customer(&c.target.named)),
                (None, Some(tenant)) => {
                    return Err(invalid_order(
                        "partner",
                        format!(
                            "customer {tenant} is served by several partners, or not by the one named: name the selling partner (a partner tenant id that has it as a customer)"
                        ),
                    ))
                }
            };
            let today = start_of_day(ctx.now);
            if at >= today {
                return Err(invalid_order(
                    "purchased_at",
                    format!(
                        "{at} is not before today ({today}); an order dated today is placed with place_order by the partner"
                    ),
                ));
            }
            if at < earliest_backfill() {
                return Err(invalid_order(
                    "purchased_at",
                    format!(
                        "{at} is before {}, the earliest csp backfills",
                        earliest_backfill()
                    ),
                ));
            }
            Ok((customer, at))
        }
    }
}

/// Checks the line count (rule O2: one or more lines).
fn check_lines(lines: &[OrderLineRequest]) -> Result<(), Rejection> {
    if lines.is_empty() {
        return Err(invalid_order("lines", "an order has at least one line"));
    }
    if lines.len() > MAX_LINES as usize {
        return Err(invalid_order(
            "lines",
            format!("an order has at most {MAX_LINES} lines; split it into several orders"),
        ));
    }
    Ok(())
}

/// The policy in force at `at`.
fn policy_at(catalog: &Catalog, at: Timestamp) -> Result<&csp_catalog::Policy, Rejection> {
    catalog.policy_at(at).ok_or_else(|| {
        invalid_order(
            "purchased_at",
            format!(
                "no catalog policy was in force at {at}; nothing can be sold or backfilled then"
            ),
        )
    })
}

impl Decider for Order {
    type State = OrderState;
    type Command = PlaceOrder;
    type Event = Event;

    fn decide(s: &OrderState, c: &PlaceOrder, ctx: &Context) -> Result<Vec<Event>, Rejection> {
        let (customer, purchased_at) = authorize_and_date(c, ctx)?;
        let customer = &customer;
        if let Some(existing) = s {
            return Err(Rejection::new(
                ErrorCode::AlreadyExists,
                format!("order {} exists already", existing.order),
            ));
        }
        check_lines(&c.lines)?;
        let policy = policy_at(&c.catalog, purchased_at)?;
        let before_cutover = policy.before_cutover(purchased_at);
        let order = OrderId(ctx.new_id("order", c.slot));
        let mut total = Money::zero(customer.currency);
        let mut lines = Vec::with_capacity(c.lines.len());
        let mut items = Vec::with_capacity(c.lines.len());
        for (i, request) in c.lines.iter().enumerate() {
            let priced = price_line(&c.catalog, policy, customer, i, request)?;
            let index = u32::try_from(i).unwrap_or(MAX_LINES);
            let creates = line_ids(ctx, c.slot, index, priced.product.kind)?;
            total = total
                .checked_add(priced.line_price)
                .map_err(|_| invalid_order("lines", "the order total is too large"))?;
            items.push(line_event(
                customer,
                order,
                index + 1,
                purchased_at,
                before_cutover,
                &priced,
                creates,
            )?);
            lines.push(PricedLine {
                line: index + 1,
                product: request.product.clone(),
                sku: request.sku.clone(),
                product_name: priced.product.name.clone(),
                kind: priced.product.kind,
                quantity: request.quantity,
                term: request.term,
                billing_plan: request.billing_plan,
                unit_price: priced.unit_price,
                line_price: priced.line_price,
                tax_inclusive: priced.tax_inclusive,
                license_only: priced.product.license_only,
                policy: priced.policy,
                creates,
            });
        }
        let mut events = Vec::with_capacity(items.len() + 1);
        events.push(
            OrderPlaced {
                order,
                customer: customer.customer,
                partner: customer.partner,
                customer_country: customer.country,
                currency: customer.currency,
                purchased_at,
                backfilled: c.backfill.is_some(),
                lines,
                total,
            }
            .into(),
        );
        events.extend(items);
        Ok(events)
    }

    fn evolve(s: &mut OrderState, e: &Event) {
        if let Event::OrderPlaced(o) = e {
            *s = Some(o.clone());
        }
    }
}

/// The event a priced line becomes (rule O3): a subscription's first term or a perpetual
/// purchase, each keeping its order id and line.
fn line_event(
    customer: &CustomerAdded,
    order: OrderId,
    line: u32,
    purchased_at: Timestamp,
    before_cutover: bool,
    priced: &Priced,
    creates: LineItem,
) -> Result<Event, Rejection> {
    let window_end = |hours: u32| {
        purchased_at.plus_hours(hours).ok_or_else(|| {
            invalid_order(
                "purchased_at",
                "the cancellation window ends past the calendar",
            )
        })
    };
    let cancellable_until = match priced.policy.cancellation_window_hours {
        Some(h) => Some(window_end(h)?),
        None => None,
    };
    let r = &priced.request;
    Ok(match creates {
        LineItem::Subscription(subscription) => {
            let term_end = term_end(purchased_at, r.term).ok_or_else(|| {
                invalid_order(
                    &format!("lines[{}].term", line - 1),
                    "the term ends past the calendar",
                )
            })?;
            SubscriptionStarted {
                subscription,
                order,
                line,
                customer: customer.customer,
                partner: customer.partner,
                customer_country: customer.country,
                product: r.product.clone(),
                sku: r.sku.clone(),
                product_name: priced.product.name.clone(),
                kind: priced.product.kind,
                quantity: r.quantity,
                term: r.term,
                billing_plan: r.billing_plan,
                unit_price: priced.unit_price,
                term_price: priced.line_price,
                tax_inclusive: priced.tax_inclusive,
                license_only: priced.product.license_only,
                term_start: purchased_at,
                term_end,
                // Rule O6: auto-renew by default on or after the cut-over, never before it.
                auto_renew: !before_cutover,
                before_cutover,
                cancellable_until,
                policy: priced.policy,
            }
            .into()
        }
        LineItem::Perpetual(purchase) => PerpetualPurchased {
            purchase,
            order,
            line,
            customer: customer.customer,
            partner: customer.partner,
            customer_country: customer.country,
            product: r.product.clone(),
            sku: r.sku.clone(),
            product_name: priced.product.name.clone(),
            quantity: r.quantity,
            unit_price: priced.unit_price,
            price: priced.line_price,
            tax_inclusive: priced.tax_inclusive,
            license_only: priced.product.license_only,
            purchased_at,
            cancellable_until,
            policy: priced.policy,
        }
        .into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Review (rule O2): priced, each line's plans listed, nothing recorded
// ---------------------------------------------------------------------------------------------

/// Reviews an order for `target` at `ctx.now`: prices every line that can be priced, lists the
/// terms and billing plans each line could take, and says what would refuse the others. Records
/// nothing. Only the order as a whole (no lines, unknown customer, not yours) is refused.
pub fn review(
    catalog: &Catalog,
    target: &Target,
    lines: &[OrderLineRequest],
    ctx: &Context,
) -> Result<Review, Rejection> {
    let customer = &partner_for(ctx, target, &REVIEWERS, "review an order")?;
    check_lines(lines)?;
    let policy = policy_at(catalog, ctx.now)?;
    let mut total = Money::zero(customer.currency);
    let mut out = Vec::with_capacity(lines.len());
    for (i, request) in lines.iter().enumerate() {
        let product = catalog.product(&request.product);
        let sku = product.and_then(|p| p.sku(&request.sku));
        let available_terms = sku.map(|s| s.available_terms()).unwrap_or_default();
        let offer = sku.and_then(|s| s.offer(request.term));
        let available_plans = offer.map(|o| o.billing_plans.clone()).unwrap_or_default();
        // Priced even when the plan is wrong: the price is per term, whatever the plan.
        let unit_price = offer.and_then(|o| o.price(customer.currency));
        let line_price = unit_price.and_then(|u| u.checked_mul(i64::from(request.quantity)).ok());
        let problem = price_line(catalog, policy, customer, i, request).err();
        if let (Some(p), None) = (line_price, &problem) {
            total = total
                .checked_add(p)
                .map_err(|_| invalid_order("lines", "the order total is too large"))?;
        }
        out.push(ReviewLine {
            line: u32::try_from(i + 1).unwrap_or(MAX_LINES),
            request: request.clone(),
            product_name: product.map(|p| p.name.clone()),
            available_terms,
            available_plans,
            unit_price,
            line_price,
            problem,
        });
    }
    let can_place = out.iter().all(|l| l.problem.is_none()) && BUYERS.allows(&ctx.actor);
    Ok(Review {
        customer: customer.customer,
        currency: customer.currency,
        tax_inclusive: policy.tax_inclusive(customer.country),
        policy_version: policy.version,
        lines: out,
        total,
        can_place,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::*;
    use csp_catalog::CatalogFile;
    use csp_events::api::CustomerRef;
    use csp_events::kernel::spec::Spec;
    use csp_events::ordering::{BillingPlan, PolicyRef, Term};
    use csp_events::{Currency, TenantId};

    fn place(target: Target, lines: Vec<OrderLineRequest>) -> PlaceOrder {
        PlaceOrder {
            target,
            lines,
            backfill: None,
            slot: 0,
            catalog: catalog(),
        }
    }

    fn backfill(lines: Vec<OrderLineRequest>, dated: Timestamp) -> PlaceOrder {
        PlaceOrder {
            backfill: Some(dated),
            ..place(contoso_target(), lines)
        }
    }

    fn haiti() -> CustomerAdded {
        customer(HAITI, "haiti-ventures.onmicrosoft.com", "HT", Currency::USD)
    }

    #[test]
    fn rule_o1_an_admin_agent_buys_on_the_customers_behalf() {
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(2)]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| {
                let Event::OrderPlaced(o) = &events[0] else {
                    panic!("{events:?}")
                };
                assert_eq!(
                    (o.customer, o.partner, o.purchased_at),
                    (CONTOSO, PARTNER, now())
                );
                assert!(!o.backfilled);
                assert_eq!(o.total, Money::new(2 * 615_000, Currency::USD));
            });
    }

    #[test]
    fn rule_o1_a_partner_global_admin_buys_too() {
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1)]),
                &ctx_partner(Role::GlobalAdmin, now()),
            )
            .then_with(|events| assert_eq!(events.len(), 2));
    }

    #[test]
    fn rule_o1_any_other_role_is_forbidden_naming_the_customer() {
        for role in [
            Role::SalesAgent,
            Role::HelpdeskAgent,
            Role::AccountAdmin,
            Role::BillingAdmin,
            Role::ReferralAdmin,
            Role::MarketingContentAdmin,
        ] {
            let r = Spec::<Order>::given([])
                .when(
                    &place(contoso_target(), vec![ws_p1y(1)]),
                    &ctx_partner(role, now()),
                )
                .then_reject(ErrorCode::Forbidden);
            assert_eq!(
                r.refused.as_ref().and_then(|f| f.customer),
                Some(CONTOSO),
                "{role:?}"
            );
        }
    }

    #[test]
    fn rule_o1_a_customers_own_global_admin_cannot_buy() {
        let customer_admin = csp_events::Actor {
            kind: csp_events::ActorKind::Customer,
            tenant: CONTOSO,
            user: "admin@contoso.example".into(),
            roles: vec![Role::GlobalAdmin],
        };
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1)]),
                &ctx(customer_admin, now()),
            )
            .then_reject(ErrorCode::Forbidden);
    }

    #[test]
    fn rule_o1_a_partner_buys_only_for_customers_it_serves() {
        // Another partner may not know the customer exists: `not_found`, as for a customer
        // nobody serves, and recorded.
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1)]),
                &ctx(partner_actor(OTHER_PARTNER, Role::AdminAgent), now()),
            )
            .then_reject(ErrorCode::NotFound);
        assert_eq!(r.refused.as_ref().and_then(|f| f.customer), Some(CONTOSO));
    }

    #[test]
    fn rule_o2_a_quantity_of_zero_is_an_invalid_order_naming_the_field() {
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1), ws_p1y(0)]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::InvalidOrder);
        assert_eq!(r.details["path"], "lines[1].quantity");
        assert!(r.message.contains("at least 1"), "{}", r.message);
    }

    #[test]
    fn rule_o2_an_order_has_one_or_more_lines() {
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::InvalidOrder);
        assert_eq!(r.details["path"], "lines");
    }

    #[test]
    fn rule_o2_a_line_names_a_catalog_product_sku_and_term() {
        let mut bad = ws_p1y(1);
        bad.product = csp_events::market::ProductId::new("windows-server-2099").unwrap();
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![bad]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::UnknownProduct);
        assert_eq!(r.details["path"], "lines[0].product");
        let mut bad = ws_p1y(1);
        bad.sku = csp_events::market::SkuId::new("64-core-p1y").unwrap();
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![bad]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::UnknownProduct);
        assert_eq!(r.details["path"], "lines[0].sku");
        assert_eq!(
            r.details["available_skus"],
            serde_json::json!(["16-core-p1y", "16-core-p3y"])
        );
        let mut bad = ws_p1y(1);
        bad.term = Term::P3Y;
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![bad]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::InvalidOrder);
        assert_eq!(r.details["path"], "lines[0].term");
        assert_eq!(r.details["available_terms"], serde_json::json!(["P1Y"]));
    }

    #[test]
    fn rule_o2_a_customer_nobody_has_added_is_not_found() {
        let named = CustomerRef::Domain("nobody.onmicrosoft.com".into());
        Spec::<Order>::given([])
            .when(
                &place(
                    Target {
                        named,
                        customer: None,
                        relationship: None,
                    },
                    vec![ws_p1y(1)],
                ),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::NotFound);
    }

    #[test]
    fn rule_o2_review_prices_each_line_lists_its_plans_and_records_nothing() {
        let rds = line(
            "windows-server-2022-rds-user-cal",
            "user-cal-p3y",
            10,
            Term::P3Y,
            BillingPlan::Monthly,
        );
        let mut wrong_plan = line(
            "windows-server-2022-datacenter",
            "16-core-p3y",
            2,
            Term::P3Y,
            BillingPlan::Monthly,
        );
        let r = review(
            &catalog(),
            &contoso_target(),
            &[rds, wrong_plan.clone()],
            &ctx_partner(Role::SalesAgent, now()),
        )
        .unwrap();
        assert_eq!(
            r.lines[0].available_plans,
            vec![
                BillingPlan::Monthly,
                BillingPlan::Annual,
                BillingPlan::Triennial
            ]
        );
        assert_eq!(
            r.lines[0].line_price,
            Some(Money::new(10 * 39_000, Currency::USD))
        );
        assert!(r.lines[0].problem.is_none());
        assert_eq!(
            r.lines[1].available_plans,
            vec![BillingPlan::Annual, BillingPlan::Triennial]
        );
        assert_eq!(
            r.lines[1].line_price,
            Some(Money::new(2 * 1_845_000, Currency::USD))
        );
        assert_eq!(
            r.lines[1].problem.as_ref().map(|p| p.code),
            Some(ErrorCode::BillingPlanUnavailable)
        );
        assert!(!r.can_place);
        assert_eq!(
            r.total,
            Money::new(390_000, Currency::USD),
            "only placeable lines are totalled"
        );
        wrong_plan.billing_plan = BillingPlan::Triennial;
        let r = review(
            &catalog(),
            &contoso_target(),
            &[wrong_plan],
            &ctx_partner(Role::AdminAgent, now()),
        )
        .unwrap();
        assert!(r.can_place);
        assert_eq!(
            (r.currency, r.tax_inclusive, r.policy_version),
            (Currency::USD, false, 1)
        );
        // Review is a function of its inputs: there is no state for it to change.
    }

    #[test]
    fn rule_o3_a_subscription_line_creates_a_subscription_that_keeps_the_order_id() {
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(2)]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| {
                let Event::OrderPlaced(o) = &events[0] else {
                    panic!()
                };
                let s = started(events);
                assert_eq!(o.lines[0].creates, LineItem::Subscription(s.subscription));
                assert_eq!((s.order, s.line, s.quantity), (o.order, 1, 2));
                assert_eq!(
                    (s.term_start, s.term_end),
                    (now(), at(2027, 11, 2, 9, 0, 0))
                );
                assert_eq!(s.term_price, Money::new(1_230_000, Currency::USD));
                assert_eq!(s.cancellable_until, Some(at(2026, 11, 9, 9, 0, 0)));
                assert_eq!(
                    s.policy,
                    PolicyRef {
                        version: 1,
                        cancellation_window_hours: Some(168)
                    }
                );
            });
    }

    #[test]
    fn rule_o3_a_perpetual_line_creates_a_perpetual_purchase_that_keeps_the_order_id() {
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1), sql_perpetual(3)]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| {
                let Event::OrderPlaced(o) = &events[0] else {
                    panic!()
                };
                let p = purchased(events);
                assert_eq!(o.lines[1].creates, LineItem::Perpetual(p.purchase));
                assert_eq!((p.order, p.line, p.quantity), (o.order, 2, 3));
                assert_eq!(p.price, Money::new(3 * 389_900, Currency::USD));
                assert_eq!(p.cancellable_until, Some(at(2026, 12, 2, 9, 0, 0)));
                assert_eq!(o.total, Money::new(615_000 + 3 * 389_900, Currency::USD));
            });
    }

    #[test]
    fn rule_m1_azure_reservations_are_refused_where_unavailable() {
        for (tenant, domain, country) in [
            (HAITI, "haiti-ventures.onmicrosoft.com", "HT"),
            (
                TenantId(uuid::Uuid::from_u128(0x0c10)),
                "prishtina.onmicrosoft.com",
                "XK",
            ),
            (
                TenantId(uuid::Uuid::from_u128(0x0c11)),
                "kralendijk.onmicrosoft.com",
                "BQ",
            ),
            (
                TenantId(uuid::Uuid::from_u128(0x0c12)),
                "longyearbyen.onmicrosoft.com",
                "SJ",
            ),
        ] {
            let c = customer(tenant, domain, country, Currency::USD);
            let r = Spec::<Order>::given([])
                .when(
                    &place(target(&c), vec![reservation_p1y()]),
                    &ctx_partner(Role::AdminAgent, now()),
                )
                .then_reject(ErrorCode::MarketUnavailable);
            assert_eq!(r.details["country"], country);
            assert_eq!(r.details["path"], "lines[0].product");
        }
    }

    #[test]
    fn rule_m1_the_list_restricts_reservations_only() {
        Spec::<Order>::given([])
            .when(
                &place(target(&haiti()), vec![ws_p1y(1), sql_perpetual(1)]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| assert_eq!(events.len(), 3));
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![reservation_p1y()]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| assert_eq!(started(events).kind, ProductKind::AzureReservation));
    }

    #[test]
    fn rule_m3_a_plan_the_sku_does_not_offer_is_refused_listing_those_it_does() {
        let monthly_p3y = line(
            "windows-server-2022-datacenter",
            "16-core-p3y",
            1,
            Term::P3Y,
            BillingPlan::Monthly,
        );
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1), monthly_p3y]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::BillingPlanUnavailable);
        assert_eq!(
            r.details["available_plans"],
            serde_json::json!(["annual", "triennial"])
        );
        assert_eq!(r.details["path"], "lines[1].billing_plan");
    }

    #[test]
    fn rule_m3_three_year_skus_take_annual_or_triennial_and_the_rds_cal_monthly() {
        for plan in [BillingPlan::Annual, BillingPlan::Triennial] {
            let l = line(
                "sql-server-2022-enterprise",
                "2-core-p3y",
                1,
                Term::P3Y,
                plan,
            );
            Spec::<Order>::given([])
                .when(
                    &place(contoso_target(), vec![l]),
                    &ctx_partner(Role::AdminAgent, now()),
                )
                .then_with(|events| assert_eq!(started(events).billing_plan, plan));
        }
        let rds = line(
            "windows-server-2022-rds-user-cal",
            "user-cal-p1y",
            25,
            Term::P1Y,
            BillingPlan::Monthly,
        );
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![rds]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_with(|events| assert_eq!(started(events).billing_plan, BillingPlan::Monthly));
        let monthly_ws = line(
            "windows-server-2022-standard",
            "16-core-p1y",
            1,
            Term::P1Y,
            BillingPlan::Monthly,
        );
        let r = Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![monthly_ws]),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::BillingPlanUnavailable);
        assert_eq!(r.details["available_plans"], serde_json::json!(["annual"]));
    }

    #[test]
    fn rule_o6_orders_dated_before_today_enter_only_by_backfill() {
        let yesterday = at(2026, 11, 1, 15, 30, 0);
        Spec::<Order>::given([])
            .when(
                &backfill(vec![ws_p1y(1)], yesterday),
                &ctx_platform(Role::Importer, now()),
            )
            .then_with(|events| {
                let Event::OrderPlaced(o) = &events[0] else {
                    panic!()
                };
                assert!(o.backfilled);
                assert_eq!(o.purchased_at, yesterday);
            });
        // A partner cannot backfill, and the importer cannot backfill today.
        Spec::<Order>::given([])
            .when(
                &backfill(vec![ws_p1y(1)], yesterday),
                &ctx_partner(Role::AdminAgent, now()),
            )
            .then_reject(ErrorCode::Forbidden);
        let r = Spec::<Order>::given([])
            .when(
                &backfill(vec![ws_p1y(1)], at(2026, 11, 2, 0, 0, 0)),
                &ctx_platform(Role::Importer, now()),
            )
            .then_reject(ErrorCode::InvalidOrder);
        assert_eq!(r.details["path"], "purchased_at");
        // Nor can the importer place today's orders.
        Spec::<Order>::given([])
            .when(
                &place(contoso_target(), vec![ws_p1y(1)]),
                &ctx_platform(Role::Importer, now()),
            )
            .then_reject(ErrorCode::Forbidden);
    }

    #[test]
    fn rule_o6_only_subscriptions_bought_on_or_after_the_cutover_auto_renew_by_default() {
        let cutover = at(2021, 10, 14, 0, 0, 0);
        let before = started(&backfilled(
            vec![ws_p1y(1)],
            after(cutover, 0, 0, -1),
            now(),
        ));
        assert!(before.before_cutover && !before.auto_renew);
        let on = started(&backfilled(vec![ws_p1y(1)], cutover, now()));
        assert!(!on.before_cutover && on.auto_renew);
    }

    #[test]
    fn the_tax_flag_follows_the_customers_market() {
        let aussie = customer(AUSSIE, "kangaroo.onmicrosoft.com", "AU", Currency::AUD);
        let s = started(&bought_by(&aussie, vec![ws_p1y(1)], now()));
        assert!(s.tax_inclusive);
        assert_eq!(s.unit_price, Money::new(1_028_300, Currency::AUD));
        assert!(!started(&bought(vec![ws_p1y(1)], now())).tax_inclusive);
    }

    #[test]
    fn a_new_policy_version_applies_to_new_purchases_only() {
        let dir = csp_catalog::sample_dir();
        let read = |p: std::path::PathBuf| {
            CatalogFile::new(p.clone(), std::fs::read_to_string(&p).unwrap())
        };
        let mut policy = read(dir.join("policy.toml"));
        let products: Vec<_> = ["windows-server-2022.toml"]
            .iter()
            .map(|f| read(dir.join("products").join(f)))
            .collect();
        let v1 = policy
            .text
            .split("\n[[policy]]\n")
            .nth(1)
            .unwrap()
            .to_string();
        let v2 = v1
            .replace("version = 1", "version = 2")
            .replace(
                "effective_from = 2019-01-01T00:00:00Z",
                "effective_from = 2027-01-01T00:00:00Z",
            )
            .replace("software_subscription = 168", "software_subscription = 72");
        policy.text.push_str(&format!("\n[[policy]]\n{v2}"));
        let catalog = Arc::new(Catalog::from_files(&policy, &products).unwrap());
        let buy = |when| {
            let cmd = PlaceOrder {
                catalog: Arc::clone(&catalog),
                ..place(contoso_target(), vec![ws_p1y(1)])
            };
            started(&Order::decide(&None, &cmd, &ctx_partner(Role::AdminAgent, when)).unwrap())
        };
        let old = buy(at(2026, 12, 31, 12, 0, 0));
        let new = buy(at(2027, 1, 1, 12, 0, 0));
        assert_eq!(
            old.policy,
            PolicyRef {
                version: 1,
                cancellation_window_hours: Some(168)
            }
        );
        assert_eq!(
            new.policy,
            PolicyRef {
                version: 2,
                cancellation_window_hours: Some(72)
            }
        );
        assert_eq!(new.cancellable_until, Some(at(2027, 1, 4, 12, 0, 0)));
        // The old purchase renews under its own policy: its next window is still 168 hours.
        let mut s = None;
        crate::domain::subscription::Subscription::evolve(&mut s, &old.clone().into());
        let due = crate::domain::subscription::Subscription::next_due(&s).unwrap();
        let Event::SubscriptionRenewed(r) = due.event else {
            panic!()
        };
        assert_eq!(r.cancellable_until, r.term_start.plus_hours(168));
    }
}
