//! The ordering service's part of the contract: its events (stored with postcard, published on
//! `csp.evt.ordering.…`), its JSON commands (`csp.cmd.ordering.…`) and queries
//! (`csp.qry.ordering.…`).
//!
//! Events carry everything billing and entitlement need to act without asking ordering again:
//! prices, quantities, terms, plans, windows, the tax flag, the customer's country and currency,
//! and the policy in force when the purchase was made.
//!
//! One file per part: [`events`] (postcard, frozen once released), [`commands`] and [`queries`]
//! (the JSON bodies) and [`replies`] (the `result` of each one's reply). Everything is
//! re-exported here, so `csp_events::ordering::PlaceOrder` names it whatever file it is in.

use serde::{Deserialize, Serialize};

use crate::id::{OrderId, PurchaseId, SubscriptionId};
use crate::market::{ProductId, SkuId};
use crate::money::Money;

pub mod commands;
pub mod events;
pub mod queries;
pub mod replies;

pub use commands::*;
pub use events::*;
pub use queries::*;
pub use replies::*;

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
