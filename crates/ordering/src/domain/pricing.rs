//! Pricing a requested line against the catalog and the policy in force: the one place where
//! rules M1 (markets), M2 (tax flag), M3 (billing plans) and the shape checks of O2 are applied,
//! so that placing, backfilling and reviewing an order can never disagree.
//!
//! Checks run in a fixed order, and the first failure is the answer, naming the field in
//! `details.path` (`lines[2].billing_plan`): quantity, product, SKU, market, term, billing plan,
//! price.

use csp_catalog::{Catalog, Policy, Product};
use csp_events::kernel::Rejection;
use csp_events::ordering::{
    BillingPlan, CustomerAdded, OrderLineRequest, PolicyRef, ProductKind, Term,
};
use csp_events::{ErrorCode, Money};
use serde_json::json;

use super::access::invalid_order;

/// A requested line, priced: everything an order line records except the id it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// The catalog product.
    pub product: Product,
    /// The requested line.
    pub request: OrderLineRequest,
    /// One unit for one term.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_price: Money,
    /// Prices include tax (RULES.md M2).
    pub tax_inclusive: bool,
    /// The policy it is sold under, with the window of this product (`None`: never cancellable).
    pub policy: PolicyRef,
    /// The plans the SKU offers for this term (rule M3), for the review screen.
    pub available_plans: Vec<BillingPlan>,
}

/// The wire name of a term.
pub fn term_name(t: Term) -> &'static str {
    match t {
        Term::P1Y => "P1Y",
        Term::P3Y => "P3Y",
        Term::Perpetual => "perpetual",
    }
}

/// The wire name of a billing plan.
pub fn plan_name(p: BillingPlan) -> &'static str {
    match p {
        BillingPlan::Monthly => "monthly",
        BillingPlan::Annual => "annual",
        BillingPlan::Triennial => "triennial",
        BillingPlan::OneTime => "one_time",
    }
}

/// The policy reference a purchase of `product` records under `policy`: its version and the
/// window of the product's kind, or none for a product that can never be cancelled (rule O9).
pub fn policy_ref(policy: &Policy, product: &Product) -> PolicyRef {
    PolicyRef {
        version: policy.version,
        cancellation_window_hours: product
            .cancellable
            .then(|| policy.window_hours(product.kind)),
    }
}

/// Prices line `index` (0-based) of a request for `customer` under `policy`.
pub fn price_line(
    catalog: &Catalog,
    policy: &Policy,
    customer: &CustomerAdded,
    index: usize,
    line: &OrderLineRequest,
) -> Result<Priced, Rejection> {
    let at = |field: &str| format!("lines[{index}].{field}");
    if line.quantity == 0 {
        return Err(invalid_order(
            &at("quantity"),
            "quantity must be at least 1",
        ));
    }
    let Some(product) = catalog.product(&line.product) else {
        return Err(Rejection::new(
            ErrorCode::UnknownProduct,
            format!(
                "the catalog has no product {:?}; pick one the catalog lists",
                line.product.as_str()
            ),
        )
        .with("path", at("product")));
    };
    let Some(sku) = product.sku(&line.sku) else {
        let skus: Vec<&str> = product.skus.keys().map(|s| s.as_str()).collect();
        return Err(Rejection::new(
            ErrorCode::UnknownProduct,
            format!(
                "{} has no SKU {:?}; it offers {}",
                product.name,
                line.sku.as_str(),
                skus.join(", ")
            ),
        )
        .with("path", at("sku"))
        .with("available_skus", json!(skus)));
    };
    // Rule M1: the market list restricts Azure Reservations only.
    if product.kind == ProductKind::AzureReservation
        && !policy.reservations_available_in(customer.country)
    {
        return Err(Rejection::new(
            ErrorCode::MarketUnavailable,
            format!(
                "Azure Reservations are not available in the customer's market ({}); software subscriptions and perpetual software are",
                customer.country
            ),
        )
        .with("path", at("product"))
        .with("country", customer.country.to_string()));
    }
    let Some(offer) = sku.offer(line.term) else {
        let terms: Vec<&str> = sku.available_terms().into_iter().map(term_name).collect();
        return Err(invalid_order(
            &at("term"),
            format!(
                "{} is not sold for term {}; it is sold for {}",
                sku.name,
                term_name(line.term),
                terms.join(", ")
            ),
        )
        .with("available_terms", json!(terms)));
    };
    // Rule M3: the plans come from the catalog, per term.
    let plans: Vec<&str> = offer.billing_plans.iter().copied().map(plan_name).collect();
    if !offer.offers(line.billing_plan) {
        return Err(Rejection::new(
            ErrorCode::BillingPlanUnavailable,
            format!(
                "{} ({}) is not offered with {} billing; choose {}",
                sku.name,
                term_name(line.term),
                plan_name(line.billing_plan),
                plans.join(" or ")
            ),
        )
        .with("path", at("billing_plan"))
        .with("available_plans", json!(plans)));
    }
    let Some(unit_price) = offer.price(customer.currency) else {
        return Err(invalid_order(
            &at("sku"),
            format!(
                "{} has no price in {}, the customer's currency",
                sku.name, customer.currency
            ),
        ));
    };
    let line_price = unit_price
        .checked_mul(i64::from(line.quantity))
        .map_err(|_| invalid_order(&at("quantity"), "the quantity is too large to price"))?;
    Ok(Priced {
        product: product.clone(),
        request: line.clone(),
        unit_price,
        line_price,
        tax_inclusive: policy.tax_inclusive(customer.country),
        policy: policy_ref(policy, product),
        available_plans: offer.billing_plans.clone(),
    })
}
