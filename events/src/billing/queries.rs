//! Billing's queries: JSON on `csp.qry.billing.<name>`. They record nothing but refusals.
//! Readers per RULES.md B10: the partner's `global_admin` and `billing_admin`; the partner's
//! other users are `forbidden`; anyone else (a customer included) `not_found`.

use serde::{Deserialize, Serialize};

use super::*;
use crate::api::{query, CustomerRef};
use crate::id::{OrderId, TenantId};
use crate::money::Currency;
use crate::ordering::LineItem;

/// One issued invoice, its lines in pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetInvoice {
    /// The partner (default: the caller's own tenant).
    #[serde(default)]
    pub partner: Option<TenantId>,
    /// The month, `YYYY-MM`.
    pub month: Month,
    /// The currency; needed only when the partner was invoiced in several that month.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many lines (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(GetInvoice, "get_invoice", InvoicePage);

/// The partner's invoices, issued and open, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListInvoices {
    /// The partner (default: the caller's own tenant).
    #[serde(default)]
    pub partner: Option<TenantId>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many invoices (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(ListInvoices, "list_invoices", InvoiceList);

/// An open month's invoice as it stands, computed by the code that will issue it: issued with
/// nothing new since, it equals this preview byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewInvoice {
    /// The partner (default: the caller's own tenant).
    #[serde(default)]
    pub partner: Option<TenantId>,
    /// The open month (default: the first month not yet closed).
    #[serde(default)]
    pub month: Option<Month>,
    /// The currency; needed only when the partner has lines in several that month.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many lines (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(PreviewInvoice, "preview_invoice", InvoicePage);

/// Every charge, refund and credit of one subscription or perpetual purchase, or of one order,
/// with the invoice line that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCharges {
    /// Tenant id or domain name.
    pub customer: CustomerRef,
    /// The subscription or perpetual purchase (`{"subscription": id}` or `{"perpetual": id}`).
    #[serde(default)]
    pub item: Option<LineItem>,
    /// Or the order.
    #[serde(default)]
    pub order: Option<OrderId>,
}
query!(GetCharges, "get_charges", ChargeList);

/// An invoice as Partner Center's new-commerce reconciliation file lays it out: 46 columns,
/// CSV, in pages of rows; the first page starts with the header row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportReconciliation {
    /// The partner (default: the caller's own tenant).
    #[serde(default)]
    pub partner: Option<TenantId>,
    /// The month, `YYYY-MM`: its issued invoice, or its preview while it is open.
    pub month: Month,
    /// The currency; needed only when the partner was invoiced in several that month.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many rows (and at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}
query!(
    ExportReconciliation,
    "export_reconciliation",
    ReconciliationPage
);
