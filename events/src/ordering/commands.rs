//! Ordering's commands: JSON on `csp.cmd.ordering.<name>`, each bound to its name and to the
//! type of its reply's `result` ([`super::replies`]).

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{command, CustomerRef, RequestId};
use crate::id::{OrderId, RefundRequestId, SubscriptionId, TenantId};
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

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
command!(AddCustomer, "add_customer", AddedCustomer);

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
command!(PlaceOrder, "place_order", PlacedOrder);

/// One historical order to backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The selling partner's tenant id: needed only when several partners serve the customer
    /// (otherwise its only partner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<TenantId>,
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
command!(ImportOrders, "import_orders", ImportResults);

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
command!(SetAutoRenew, "set_auto_renew", AutoRenewSet);

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
command!(
    CancelSubscription,
    "cancel_subscription",
    CancelledSubscription
);

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
command!(CancelPerpetual, "cancel_perpetual", PerpetualCancellations);

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
command!(FileRefundRequest, "file_refund_request", FiledRefundRequest);

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
command!(
    DecideRefundRequest,
    "decide_refund_request",
    DecidedRefundRequest
);
