//! Ordering's queries: JSON on `csp.qry.ordering.<name>`; they record nothing.

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{query, CustomerRef};
use crate::id::{OrderId, SubscriptionId};

/// Price an order and list each line's billing plans, recording nothing (rule O2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The lines to price.
    pub lines: Vec<OrderLineRequest>,
}
query!(ReviewOrder, "review_order", Review);

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
query!(CancellationInfo, "cancellation_info", CancellationWindows);

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
query!(GetCustomers, "get_customers", CustomersPage);

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
query!(GetOrders, "get_orders", OrdersPage);

/// One order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetOrder {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The order.
    pub order_id: OrderId,
}
query!(GetOrder, "get_order", OrderView);

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
query!(GetSubscriptions, "get_subscriptions", SubscriptionsPage);

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSubscription {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The subscription.
    pub subscription_id: SubscriptionId,
}
query!(GetSubscription, "get_subscription", SubscriptionView);

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
query!(GetPurchases, "get_purchases", PurchasesPage);
