//! The `result` of each billing query's reply.

use serde::{Deserialize, Serialize};

use super::*;
use crate::id::{OrderId, RefundRequestId, TenantId};
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::ordering::LineItem;

/// Whether an invoice is issued (immutable) or still open (a preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Month closed: it never changes again.
    Issued,
    /// Month open: what it would be if issued now.
    Preview,
}

/// An invoice's head: what `invoice_issued` records, and what a preview would record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceHead {
    /// `CSP-YYYYMM-NNNN`.
    pub number: String,
    /// The partner.
    pub partner: TenantId,
    /// The month.
    pub month: Month,
    /// The currency.
    pub currency: Currency,
    /// How many lines.
    pub lines: u32,
    /// Sum of the charges.
    pub charges: Money,
    /// Sum of the refunds.
    pub refunds: Money,
    /// Sum of the credits.
    pub credits: Money,
    /// `charges - refunds - credits` (B8).
    pub total: Money,
    /// SHA-256 (hex) of the lines as one canonical JSON array.
    pub lines_hash: String,
}

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A charge (B1).
    Charge,
    /// A prorated refund (B4).
    Refund,
    /// A credit (B5, B7).
    Credit,
}

/// A line of another invoice: what a refund or credit undoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRef {
    /// The invoice's number.
    pub invoice: String,
    /// The line's number on it.
    pub line: u32,
}

/// One line of an invoice, per customer, order and item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// From 1, in the order the lines were recorded.
    pub number: u32,
    /// Charge, refund or credit.
    pub kind: LineKind,
    /// The customer.
    pub customer: TenantId,
    /// Its company name.
    pub customer_name: String,
    /// Its domain.
    pub customer_domain: String,
    /// Its country.
    pub customer_country: CountryCode,
    /// The order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderId>,
    /// When the order was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_date: Option<crate::Timestamp>,
    /// The subscription or perpetual purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<LineItem>,
    /// The refund request a credit approves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_request: Option<RefundRequestId>,
    /// Catalog product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductId>,
    /// Catalog SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<SkuId>,
    /// The product's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Price of one unit for one term (or the one-time price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    /// For a charge: new, installment, renewal or one-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<ChargeType>,
    /// The term (subscriptions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_number: Option<u32>,
    /// The period charged (or refunded) from...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<crate::Timestamp>,
    /// ...to (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<crate::Timestamp>,
    /// When it took effect: its month is the one it belongs to (B2).
    pub effective_at: crate::Timestamp,
    /// The month it belongs to; an earlier month than the invoice's only for a line that
    /// arrived after its own month closed (a correction, on the next open invoice).
    pub belongs_to: Month,
    /// What it costs: positive for a charge, negative for a refund or credit.
    pub amount: Money,
    /// Prices include tax (customers in Australia and Brazil, RULES.md M2).
    pub tax_inclusive: bool,
    /// The lines it undoes (a refund's charges, a perpetual credit's charge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrects: Vec<LineRef>,
}

/// One page of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePage {
    /// Issued or preview.
    pub status: InvoiceStatus,
    /// Its head: totals and the hash of every line (not only this page's).
    pub invoice: InvoiceHead,
    /// This page's lines.
    pub lines: Vec<InvoiceLine>,
    /// The cursor of the next page, if more lines remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One entry of `list_invoices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSummary {
    /// Issued or preview (open).
    pub status: InvoiceStatus,
    /// Its head.
    pub invoice: InvoiceHead,
}

/// The reply to `list_invoices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceList {
    /// Oldest first.
    pub invoices: Vec<InvoiceSummary>,
    /// The cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One line of `get_charges`: an invoice line and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeEntry {
    /// The invoice that carries it.
    pub invoice: String,
    /// Whether that invoice is issued.
    pub status: InvoiceStatus,
    /// The line.
    pub line: InvoiceLine,
}

/// The reply to `get_charges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeList {
    /// By invoice (oldest month first), then line number.
    pub entries: Vec<ChargeEntry>,
}

/// One page of the reconciliation export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationPage {
    /// Issued or preview.
    pub status: InvoiceStatus,
    /// The invoice's number.
    pub invoice: String,
    /// CSV text (RFC 4180, `\n` line ends): the header row on the first page, then one row per
    /// invoice line.
    pub csv: String,
    /// The cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
