//! Ordering's events: stored with postcard and published on `csp.evt.ordering.…`. A released
//! shape never changes silently (postcard is not self-describing): a change is a new variant,
//! or — before 1.0 — a new schema whose reader upcasts the old shape (`codec::v5`), with the
//! old shape's frozen fixture kept (`fixtures/frozen/`) and a line in `CHANGELOG.md`.

use serde::{Deserialize, Serialize};

use super::*;
use crate::id::{OrderId, PurchaseId, RefundRequestId, SubscriptionId, TenantId};
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

/// A partner added a customer to its list (rule O2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAdded {
    /// The customer's tenant id.
    pub customer: TenantId,
    /// The partner that serves it.
    pub partner: TenantId,
    /// Its domain name, lower-cased: it names the customer in commands too.
    pub domain: String,
    /// Company name.
    pub company_name: String,
    /// Country: decides market restrictions and tax inclusion.
    pub country: CountryCode,
    /// The currency it is billed in.
    pub currency: Currency,
}

/// An order was placed (or backfilled by an `importer`, rule O6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order.
    pub order: OrderId,
    /// The customer it is for.
    pub customer: TenantId,
    /// The partner that placed it.
    pub partner: TenantId,
    /// The customer's country at the time.
    pub customer_country: CountryCode,
    /// The currency of every price in the order.
    pub currency: Currency,
    /// When it was bought (in the past for a backfill).
    pub purchased_at: Timestamp,
    /// Entered by backfill rather than bought now.
    pub backfilled: bool,
    /// Its priced lines.
    pub lines: Vec<PricedLine>,
    /// Sum of the line prices.
    pub total: Money,
}

/// A subscription line started its first term (rule O3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionStarted {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The order and line that created it.
    pub order: OrderId,
    /// Line number within the order.
    pub line: u32,
    /// The customer.
    pub customer: TenantId,
    /// The partner.
    pub partner: TenantId,
    /// The customer's country at purchase.
    pub customer_country: CountryCode,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// Display name at purchase.
    pub product_name: String,
    /// Software subscription or Azure Reservation.
    pub kind: ProductKind,
    /// Units.
    pub quantity: u32,
    /// Term length.
    pub term: Term,
    /// Billing plan.
    pub billing_plan: BillingPlan,
    /// Unit price for one term.
    pub unit_price: Money,
    /// Price of the term: unit price × quantity.
    pub term_price: Money,
    /// Prices include tax (RULES.md M2).
    pub tax_inclusive: bool,
    /// License only: no keys or downloads (RULES.md K1).
    pub license_only: bool,
    /// First term start: the purchase time.
    pub term_start: Timestamp,
    /// First term end (exclusive).
    pub term_end: Timestamp,
    /// Whether it renews at the term end (rule O6).
    pub auto_renew: bool,
    /// Bought before the cut-over (2021-10-14): hidden from Get Subscriptions, never renews.
    pub before_cutover: bool,
    /// End (exclusive) of the cancellation window of this term; `None` if never cancellable.
    pub cancellable_until: Option<Timestamp>,
    /// The policy it was sold under.
    pub policy: PolicyRef,
}

/// A term ended and an auto-renewing subscription started the next one (rules O7, B3). A
/// scheduled transition: its `effective_at` is the old term's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRenewed {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner (the one that sold the item; since schema 6): a customer may be
    /// served by several partners, and each sees and acts on only what it sold.
    pub partner: TenantId,
    /// 2 for the first renewal.
    pub term_number: u32,
    /// New term start (= old term end).
    pub term_start: Timestamp,
    /// New term end (exclusive).
    pub term_end: Timestamp,
    /// Same plan as before (rule O7).
    pub billing_plan: BillingPlan,
    /// Price of the new term (the price recorded at purchase).
    pub term_price: Money,
    /// End of the new term's cancellation window (rule O8: any term).
    pub cancellable_until: Option<Timestamp>,
}

/// A term ended without renewal (rule O7). A scheduled transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionExpired {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner (the one that sold the item; since schema 6): a customer may be
    /// served by several partners, and each sees and acts on only what it sold.
    pub partner: TenantId,
    /// The end of the last term: when it expired.
    pub expired_at: Timestamp,
}

/// An `admin_agent` switched auto-renew (rule O7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRenewChanged {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner (the one that sold the item; since schema 6): a customer may be
    /// served by several partners, and each sees and acts on only what it sold.
    pub partner: TenantId,
    /// The new setting.
    pub auto_renew: bool,
}

/// A subscription was cancelled inside its window (rule O8). Billing refunds the term (RULES.md B4),
/// entitlement revokes its keys (RULES.md K8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionCancelled {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// Its order.
    pub order: OrderId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner (the one that sold the item; since schema 6): a customer may be
    /// served by several partners, and each sees and acts on only what it sold.
    pub partner: TenantId,
    /// The term it was cancelled in.
    pub term_number: u32,
    /// That term's start.
    pub term_start: Timestamp,
    /// That term's end.
    pub term_end: Timestamp,
    /// That term's price.
    pub term_price: Money,
    /// That term's plan.
    pub billing_plan: BillingPlan,
    /// When it was cancelled.
    pub cancelled_at: Timestamp,
}

/// A perpetual line was bought (rule O3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpetualPurchased {
    /// The purchase.
    pub purchase: PurchaseId,
    /// The order and line that created it.
    pub order: OrderId,
    /// Line number.
    pub line: u32,
    /// The customer.
    pub customer: TenantId,
    /// The partner.
    pub partner: TenantId,
    /// The customer's country at purchase.
    pub customer_country: CountryCode,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// Display name at purchase.
    pub product_name: String,
    /// Units.
    pub quantity: u32,
    /// Unit price.
    pub unit_price: Money,
    /// Unit price × quantity, charged once (RULES.md B1).
    pub price: Money,
    /// Prices include tax (RULES.md M2).
    pub tax_inclusive: bool,
    /// License only (RULES.md K1).
    pub license_only: bool,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// End (exclusive) of the 30-day cancellation window (rule O10).
    pub cancellable_until: Option<Timestamp>,
    /// The policy it was sold under.
    pub policy: PolicyRef,
}

/// A perpetual purchase was cancelled inside its window (rule O10): a 100% credit follows
/// (RULES.md B5) and its keys are revoked (RULES.md K8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpetualCancelled {
    /// The purchase.
    pub purchase: PurchaseId,
    /// Its order.
    pub order: OrderId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner (the one that sold the item; since schema 6): a customer may be
    /// served by several partners, and each sees and acts on only what it sold.
    pub partner: TenantId,
    /// What was charged: the credit.
    pub price: Money,
    /// When it was cancelled.
    pub cancelled_at: Timestamp,
}

/// A "CSP Purchase/Refund on behalf of customers" request was filed (rule O12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestFiled {
    /// The request.
    pub refund_request: RefundRequestId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner of what the request is about (since schema 6).
    pub partner: TenantId,
    /// The order or subscription it is about.
    pub subject: RefundSubject,
    /// Why.
    pub reason: String,
    /// How much.
    pub amount_requested: Money,
    /// Who to call.
    pub contact: Contact,
    /// Optional impact.
    pub impact: Option<String>,
    /// Optional title.
    pub title: Option<String>,
    /// Optional attachments.
    pub attachments: Vec<Attachment>,
}

/// `support` approved a refund request: a credit of `amount` follows (RULES.md B7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestApproved {
    /// The request.
    pub refund_request: RefundRequestId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner of what the request is about (since schema 6).
    pub partner: TenantId,
    /// Approved amount, at most the amount requested.
    pub amount: Money,
    /// Optional note from support.
    pub note: Option<String>,
}

/// `support` declined a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestDeclined {
    /// The request.
    pub refund_request: RefundRequestId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner of what the request is about (since schema 6).
    pub partner: TenantId,
    /// Why.
    pub reason: String,
}

/// Stream names of ordering's aggregates: `<kind>/<id>`.
pub mod stream {
    use super::*;

    /// A customer of a partner.
    pub fn customer(customer: TenantId) -> String {
        format!("customer/{customer}")
    }
    /// An order.
    pub fn order(order: OrderId) -> String {
        format!("order/{order}")
    }
    /// A subscription.
    pub fn subscription(s: SubscriptionId) -> String {
        format!("subscription/{s}")
    }
    /// A perpetual purchase.
    pub fn perpetual(p: PurchaseId) -> String {
        format!("perpetual/{p}")
    }
    /// A refund request.
    pub fn refund_request(r: RefundRequestId) -> String {
        format!("refund-request/{r}")
    }
}
