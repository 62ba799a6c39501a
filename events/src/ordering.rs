//! The ordering service's part of the contract: its events (stored with postcard, published on
//! `csp.evt.ordering.…`), its JSON commands (`csp.cmd.ordering.…`) and queries
//! (`csp.qry.ordering.…`).
//!
//! Events carry everything billing and entitlement need to act without asking ordering again:
//! prices, quantities, terms, plans, windows, the tax flag, the customer's country and currency,
//! and the policy in force when the purchase was made.

use serde::{Deserialize, Serialize};

use crate::api::{CommandBody, CustomerRef, QueryBody, RequestId};
use crate::id::{OrderId, PurchaseId, RefundRequestId, SubscriptionId, TenantId};
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

/// The service name: the second token of every ordering subject.
pub const SERVICE: &str = "ordering";

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

/// The length of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Term {
    /// One year.
    #[serde(rename = "P1Y")]
    P1Y,
    /// Three years.
    #[serde(rename = "P3Y")]
    P3Y,
    /// Perpetual software: no term, bought once.
    #[serde(rename = "perpetual")]
    Perpetual,
}

impl Term {
    /// Whole months in the term; `None` for perpetual.
    pub fn months(&self) -> Option<u32> {
        match self {
            Term::P1Y => Some(12),
            Term::P3Y => Some(36),
            Term::Perpetual => None,
        }
    }
}

/// How often a term is charged (rule M3; RULES.md B1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingPlan {
    /// One charge per month of the term.
    Monthly,
    /// One charge per year of the term.
    Annual,
    /// One charge for the three-year term.
    Triennial,
    /// One charge at purchase (perpetual software).
    OneTime,
}

/// What kind of thing a product is: it decides which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    /// Windows Server, SQL Server, RDS CALs, ESUs, RedHat and SUSE plans.
    SoftwareSubscription,
    /// Bought once, kept forever; cancellable for 30 days (rule O10).
    PerpetualSoftware,
    /// Azure Reserved VM Instances; not sold in some markets (rule M1).
    AzureReservation,
}

/// The policy a purchase was sold under, recorded with it so that a later catalog change applies
/// to new purchases only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The catalog policy version in force.
    pub version: u32,
    /// Hours after a term start (or a perpetual purchase) during which a cancel is accepted;
    /// `None` for products that can never be cancelled (rule O9).
    pub cancellation_window_hours: Option<u32>,
}

/// One priced order line, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// 1-based line number within the order.
    pub line: u32,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// The product's display name at the time of purchase.
    pub product_name: String,
    /// Subscription, perpetual or reservation.
    pub kind: ProductKind,
    /// At least 1.
    pub quantity: u32,
    /// `P1Y`, `P3Y` or perpetual.
    pub term: Term,
    /// How the term is charged.
    pub billing_plan: BillingPlan,
    /// Price of one unit for one term (or the one-time price).
    pub unit_price: Money,
    /// `unit_price × quantity`: what the term costs in all.
    pub line_price: Money,
    /// Prices include tax (customers in AU and BR, RULES.md M2).
    pub tax_inclusive: bool,
    /// Sold as a license only: no keys, no downloads (RULES.md K1).
    pub license_only: bool,
    /// The policy this line was sold under.
    pub policy: PolicyRef,
    /// The subscription or perpetual purchase this line created.
    pub creates: LineItem,
}

/// What an order line became (rule O3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineItem {
    /// A software subscription or Azure Reservation.
    Subscription(SubscriptionId),
    /// A perpetual purchase.
    Perpetual(PurchaseId),
}

/// Who to call about a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: String,
}

/// A file attached to a refund request: its name and size (the bytes travel elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// What a refund request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundSubject {
    /// An order.
    Order(OrderId),
    /// A subscription.
    Subscription(SubscriptionId),
}

// ---------------------------------------------------------------------------------------------
// Events (postcard: never reorder fields or variants once released; see CHANGELOG.md)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Commands (JSON on csp.cmd.ordering.<name>)
// ---------------------------------------------------------------------------------------------

macro_rules! command {
    ($ty:ident, $name:literal) => {
        impl CommandBody for $ty {
            const NAME: &'static str = $name;
            fn request_id(&self) -> &RequestId {
                &self.request_id
            }
        }
    };
}

macro_rules! query {
    ($ty:ident, $name:literal) => {
        impl QueryBody for $ty {
            const NAME: &'static str = $name;
        }
    };
}

/// Add a customer to the acting partner's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddCustomer {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The customer's tenant id.
    pub tenant_id: TenantId,
    /// Its domain name.
    pub domain: String,
    /// Company name.
    pub company_name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: CountryCode,
    /// ISO 4217 billing currency.
    pub currency: Currency,
}
command!(AddCustomer, "add_customer");

/// One line of an order as a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    /// Catalog product id.
    pub product: ProductId,
    /// Catalog SKU id.
    pub sku: SkuId,
    /// At least 1.
    pub quantity: u32,
    /// `P1Y`, `P3Y` or `perpetual`.
    pub term: Term,
    /// `monthly`, `annual`, `triennial` or `one_time`.
    pub billing_plan: BillingPlan,
}

/// Buy on a customer's behalf, now (rule O1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// One or more lines.
    pub lines: Vec<OrderLineRequest>,
}
command!(PlaceOrder, "place_order");

/// One historical order to backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// Its lines.
    pub lines: Vec<OrderLineRequest>,
}

/// Backfill historical orders (`importer` only, rule O6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrders {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The orders, each judged on its own.
    pub orders: Vec<ImportedOrder>,
}
command!(ImportOrders, "import_orders");

/// Switch auto-renew on or off (rule O7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAutoRenew {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The new setting.
    pub auto_renew: bool,
}
command!(SetAutoRenew, "set_auto_renew");

/// Cancel a subscription inside its window (rule O8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscription {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The subscription.
    pub subscription_id: SubscriptionId,
}
command!(CancelSubscription, "cancel_subscription");

/// Cancel the perpetual purchases of one or several orders, each answered on its own (rule O10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelPerpetual {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The orders whose perpetual purchases to cancel.
    pub order_ids: Vec<OrderId>,
}
command!(CancelPerpetual, "cancel_perpetual");

/// File a refund request (rule O12). Exactly one of `order_id` and `subscription_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRefundRequest {
    /// Idempotency key.
    pub request_id: RequestId,
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The order it is about, or
    #[serde(default)]
    pub order_id: Option<OrderId>,
    /// the subscription it is about.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// Why.
    pub reason: String,
    /// How much.
    pub amount_requested: Money,
    /// Who to call.
    pub contact: Contact,
    /// Optional impact.
    #[serde(default)]
    pub impact: Option<String>,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// Optional attachments.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}
command!(FileRefundRequest, "file_refund_request");

/// `approve` or `decline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundDecision {
    /// Approve `amount` (at most the amount requested).
    Approve,
    /// Decline, giving `reason`.
    Decline,
}

/// Decide a refund request (`support` only, rule O12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRefundRequest {
    /// Idempotency key.
    pub request_id: RequestId,
    /// The refund request.
    pub refund_request_id: RefundRequestId,
    /// `approve` or `decline`.
    pub decision: RefundDecision,
    /// Required to approve.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Required to decline; an optional note when approving.
    #[serde(default)]
    pub reason: Option<String>,
}
command!(DecideRefundRequest, "decide_refund_request");

// ---------------------------------------------------------------------------------------------
// Queries (JSON on csp.qry.ordering.<name>; they record nothing)
// ---------------------------------------------------------------------------------------------

/// Price an order and list each line's billing plans, recording nothing (rule O2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The lines to price.
    pub lines: Vec<OrderLineRequest>,
}
query!(ReviewOrder, "review_order");

/// When does the cancellation window end, and has it passed (rule O11)? Exactly one of
/// `subscription_id` and `order_id` (an order's perpetual purchases).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancellationInfo {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// A subscription, or
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// an order.
    #[serde(default)]
    pub order_id: Option<OrderId>,
}
query!(CancellationInfo, "cancellation_info");

/// The acting partner's customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCustomers {
    /// Paging: the `next` of the previous page (the id of its last item); absent for the first.
    #[serde(default)]
    pub after: Option<String>,
    /// Paging: at most this many items (1 to 1000; default 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetCustomers, "get_customers");

/// Every order of a customer, whatever its date (rule O5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetOrders {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// Paging: the `next` of the previous page (the id of its last item); absent for the first.
    #[serde(default)]
    pub after: Option<String>,
    /// Paging: at most this many items (1 to 1000; default 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetOrders, "get_orders");

/// One order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The order.
    pub order_id: OrderId,
}
query!(GetOrder, "get_order");

/// A customer's subscriptions bought on or after the cut-over (rule O4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSubscriptions {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// Paging: the `next` of the previous page (the id of its last item); absent for the first.
    #[serde(default)]
    pub after: Option<String>,
    /// Paging: at most this many items (1 to 1000; default 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetSubscriptions, "get_subscriptions");

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSubscription {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The subscription.
    pub subscription_id: SubscriptionId,
}
query!(GetSubscription, "get_subscription");

/// Every purchase of a customer, whatever its date: the Software page's list (rule O4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetPurchases {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// Paging: the `next` of the previous page (the id of its last item); absent for the first.
    #[serde(default)]
    pub after: Option<String>,
    /// Paging: at most this many items (1 to 1000; default 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetPurchases, "get_purchases");
