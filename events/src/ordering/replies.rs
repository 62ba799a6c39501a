//! What ordering answers: the `result` of each command's and query's `{"ok":true,...}` reply.
//! These are contract types, not JSON built in the service, so a reply changes only when this
//! file does (`events/README.md` shows one of each, checked against these types by
//! `tests/json_api.rs`), and a Rust client decodes a reply as the type its request names
//! (`<PlaceOrder as CommandBody>::Reply`). The read models the service keeps are these views
//! too, so a list and a single item never disagree on a field.

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::ApiError;
use crate::id::{OrderId, PurchaseId, RefundRequestId, SubscriptionId, TenantId};
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// `add_customer`: the customer as other commands may name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedCustomer {
    /// Its tenant id.
    pub tenant_id: TenantId,
    /// Its lower-cased domain name.
    pub domain: String,
}

/// `place_order` (and each accepted order of `import_orders`): what the order created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacedOrder {
    /// The new order.
    pub order_id: OrderId,
    /// The customer's tenant id.
    pub customer: TenantId,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// What it costs.
    pub total: Money,
    /// What each line created, in line order.
    pub lines: Vec<PlacedLine>,
}

/// One line of a placed order: a subscription or a perpetual purchase, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacedLine {
    /// 1-based line number.
    pub line: u32,
    /// The subscription it started, for a subscription line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<SubscriptionId>,
    /// The purchase it made, for a perpetual line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<PurchaseId>,
}

impl PlacedLine {
    /// The line that created `item`.
    pub fn new(line: u32, item: LineItem) -> PlacedLine {
        let (subscription_id, purchase_id) = match item {
            LineItem::Subscription(s) => (Some(s), None),
            LineItem::Perpetual(p) => (None, Some(p)),
        };
        PlacedLine {
            line,
            subscription_id,
            purchase_id,
        }
    }
}

/// `import_orders`: every order's own answer, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportResults {
    /// One per order of the request.
    pub results: Vec<ImportResult>,
}

/// One imported order's answer: `order` when `ok`, `error` otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportResult {
    /// Its position in the request's `orders`.
    pub index: u32,
    /// Whether it was recorded.
    pub ok: bool,
    /// What it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<PlacedOrder>,
    /// Why it was not recorded (`details.path` from the request's root: `orders[3].lines[0]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// `set_auto_renew`: the flag now in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRenewSet {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// Whether it renews at its term end.
    pub auto_renew: bool,
}

/// `cancel_subscription`: the subscription, now cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelledSubscription {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// Always `cancelled`.
    pub status: Status,
    /// When it was cancelled.
    pub cancelled_at: Timestamp,
    /// The term whose window it was cancelled in.
    pub term_number: u32,
}

/// `cancel_perpetual`: every order's own answer, in request order (rule O10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerpetualCancellations {
    /// One per order id of the request.
    pub results: Vec<OrderCancellation>,
}

/// One order's answer to `cancel_perpetual`: `cancelled` when `ok`, `error` otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancellation {
    /// The order.
    pub order_id: OrderId,
    /// Whether its perpetual purchases were cancelled.
    pub ok: bool,
    /// The purchases cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Vec<PurchaseId>>,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// `file_refund_request`: the request's id, for `decide_refund_request` and support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiledRefundRequest {
    /// The new refund request.
    pub refund_request_id: RefundRequestId,
}

/// `decide_refund_request`: the decision recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecidedRefundRequest {
    /// The refund request.
    pub refund_request_id: RefundRequestId,
    /// Approved or declined.
    pub decision: RefundDecision,
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// Where a purchase is: one of three, never two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In force.
    Active,
    /// Cancelled inside its window.
    Cancelled,
    /// Ended without renewal.
    Expired,
}

/// `review_order` (rule O2): what the order would cost and what each line could be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The customer's tenant id.
    pub customer: TenantId,
    /// The currency of every price.
    pub currency: Currency,
    /// Whether prices include tax (RULES.md M2).
    pub tax_inclusive: bool,
    /// The policy version the order would be sold under.
    pub policy_version: u32,
    /// The lines.
    pub lines: Vec<ReviewLine>,
    /// Sum of the priced lines.
    pub total: Money,
    /// Whether placing the order as it stands would be accepted.
    pub can_place: bool,
}

/// One line of a review: its price and the plans it could take, or why it cannot be bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewLine {
    /// 1-based line number.
    pub line: u32,
    /// The line as requested.
    pub request: OrderLineRequest,
    /// The product's display name, when the product exists.
    pub product_name: Option<String>,
    /// The terms the SKU is sold for, when the SKU exists.
    pub available_terms: Vec<Term>,
    /// The billing plans the SKU offers for the requested term (rule M3).
    pub available_plans: Vec<BillingPlan>,
    /// Unit price for one term, when priced.
    pub unit_price: Option<Money>,
    /// Unit price × quantity, when priced.
    pub line_price: Option<Money>,
    /// What would refuse this line if the order were placed as it stands.
    pub problem: Option<ApiError>,
}

/// `cancellation_info` (rule O11): the windows asked about, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancellationWindows {
    /// The moment the answer is exact at (the service's business clock).
    pub now: Timestamp,
    /// One for a subscription; one per perpetual purchase for an order.
    pub windows: Vec<WindowInfo>,
}

/// The cancellation window of one purchase, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowInfo {
    /// The subscription or perpetual purchase.
    pub item: LineItem,
    /// The order it came from.
    pub order: OrderId,
    /// `false` for products that can never be cancelled (rule O9).
    pub cancellable: bool,
    /// End (exclusive) of the window of the current term or of the purchase.
    pub window_ends_at: Option<Timestamp>,
    /// Whether `now` is at or past the end (or the product has no window).
    pub passed: bool,
    /// Whole seconds left, 0 once passed: a client shows days, hours or minutes from it.
    pub seconds_remaining: i64,
    /// A cancelled or expired purchase cannot be cancelled whatever its window says.
    pub status: Status,
    /// The term the window belongs to (1 for the first; 0 for perpetual purchases).
    pub term_number: u32,
}

/// `get_customers`: one page of customers, by domain name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersPage {
    /// The customers.
    pub customers: Vec<CustomerView>,
    /// The cursor of the next page (`after`), `null` on the last.
    pub next: Option<String>,
}

/// One customer as `get_customers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerView {
    /// Tenant id.
    pub tenant_id: TenantId,
    /// Lower-cased domain name.
    pub domain: String,
    /// Company name.
    pub company_name: String,
    /// Country.
    pub country: CountryCode,
    /// Billing currency.
    pub currency: Currency,
    /// The partner of record.
    pub partner: TenantId,
    /// When it was added.
    pub added_at: Timestamp,
}

/// `get_orders`: one page of a customer's orders, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersPage {
    /// The customer's tenant id.
    pub customer: TenantId,
    /// The orders.
    pub orders: Vec<OrderView>,
    /// The cursor of the next page (`after`), `null` on the last.
    pub next: Option<String>,
}

/// One order (`get_order`, and each item of `get_orders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderView {
    /// The order.
    pub order_id: OrderId,
    /// Customer tenant id.
    pub customer: TenantId,
    /// Partner tenant id.
    pub partner: TenantId,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// Entered by backfill.
    pub backfilled: bool,
    /// Its total.
    pub total: Money,
    /// Its lines, each with where its item is now.
    pub lines: Vec<OrderLineView>,
}

/// One line of an order, with its item's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineView {
    /// The line as priced and recorded.
    pub line: PricedLine,
    /// Where the subscription or purchase it created is now.
    pub status: Status,
}

/// `get_subscriptions`: one page of a customer's subscriptions bought on or after the
/// cut-over (rule O4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsPage {
    /// The customer's tenant id.
    pub customer: TenantId,
    /// The subscriptions.
    pub subscriptions: Vec<SubscriptionView>,
    /// The cursor of the next page (`after`), `null` on the last.
    pub next: Option<String>,
}

/// One subscription (`get_subscription`, and each item of `get_subscriptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionView {
    /// Its id.
    pub subscription_id: SubscriptionId,
    /// The order that created it.
    pub order_id: OrderId,
    /// Line number within the order.
    pub line: u32,
    /// Customer tenant id.
    pub customer: TenantId,
    /// The selling partner's tenant id (a customer may be served by several).
    pub partner: TenantId,
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
    /// Price of the current term.
    pub term_price: Money,
    /// Active, cancelled or expired.
    pub status: Status,
    /// 1 for the first term.
    pub term_number: u32,
    /// Current term start.
    pub term_start: Timestamp,
    /// Current term end (exclusive).
    pub term_end: Timestamp,
    /// Whether it renews at the term end.
    pub auto_renew: bool,
    /// End (exclusive) of the current term's cancellation window; `None` if never cancellable.
    pub cancellable_until: Option<Timestamp>,
    /// Bought before the cut-over: hidden from Get Subscriptions, never renews.
    pub before_cutover: bool,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// When it was cancelled or expired.
    pub ended_at: Option<Timestamp>,
    /// The policy version it was sold under.
    pub policy_version: u32,
}

/// `get_purchases`: one page of the Software page's list, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchasesPage {
    /// The customer's tenant id.
    pub customer: TenantId,
    /// The purchases.
    pub purchases: Vec<PurchaseView>,
    /// The cursor of the next page (`after`), `null` on the last.
    pub next: Option<String>,
}

/// One purchase on the Software page's list: every subscription and perpetual purchase,
/// whatever its date or status (rules O4, O10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseView {
    /// The subscription or perpetual purchase.
    pub item: LineItem,
    /// Its order (the cancel dialog of rule O10 chooses by it).
    pub order_id: OrderId,
    /// Line number within the order.
    pub line: u32,
    /// Customer tenant id.
    pub customer: TenantId,
    /// The selling partner's tenant id (a customer may be served by several).
    pub partner: TenantId,
    /// Catalog product.
    pub product: ProductId,
    /// Catalog SKU.
    pub sku: SkuId,
    /// Display name at purchase.
    pub product_name: String,
    /// Subscription, reservation or perpetual.
    pub kind: ProductKind,
    /// Term.
    pub term: Term,
    /// Units.
    pub quantity: u32,
    /// When it was bought.
    pub purchased_at: Timestamp,
    /// Sold as a license only: no keys, no downloads (RULES.md K1).
    pub license_only: bool,
    /// Bought before the cut-over (still listed here, rule O4).
    pub before_cutover: bool,
    /// Active, cancelled or expired.
    pub status: Status,
    /// A subscription: whether it renews at `term_end`. Shown here for every subscription
    /// because this is the one list where a pre-cut-over subscription appears at all (Get
    /// Subscription does not show it, rule O4), and it never renews (O6). `None` for a
    /// perpetual purchase, which has no term.
    pub auto_renew: Option<bool>,
    /// A subscription: the end (exclusive) of its current term, when it expires unless it
    /// renews (or did expire, `status` says which). `None` for a perpetual purchase.
    pub term_end: Option<Timestamp>,
}
