//! Billing's events: stored with postcard and published on `csp.evt.billing.…`. Each line
//! event is a business fact — what was charged, refunded or credited, effective when — and
//! names no invoice: which invoice carries it follows from its effective month and the months
//! already closed (RULES.md B2), the same way live and in replay. An issued invoice is an event
//! of its own, with its totals and a hash of its lines (an event must fit on the bus).

use serde::{Deserialize, Serialize};

use super::{ChargeType, CreditReason, InvoiceHead, Month};
use crate::id::{OrderId, TenantId};
use crate::money::{Currency, Money};
use crate::ordering::LineItem;
use crate::time::Timestamp;

/// A charge fell due (RULES.md B1): billing's own scheduled transition, recorded with its true
/// `effective_at` (the instant it falls) however late the scheduler ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeBilled {
    /// The subscription or perpetual purchase charged.
    pub item: LineItem,
    /// Its order.
    pub order: OrderId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner: whose invoice carries it.
    pub partner: TenantId,
    /// The term (1 for the first; a perpetual purchase has one).
    pub term_number: u32,
    /// Which charge of the term, from 1.
    pub charge_number: u32,
    /// How many charges the term has.
    pub charges_in_term: u32,
    /// The period it pays for: from here...
    pub period_start: Timestamp,
    /// ...to here (exclusive); a one-time charge's period is its purchase instant.
    pub period_end: Timestamp,
    /// What it costs.
    pub amount: Money,
    /// New purchase, later installment, renewal or one-time purchase (the export's ChargeType).
    pub charge_type: ChargeType,
}

/// A subscription cancelled in its window was refunded (RULES.md B4): what the term billed up to
/// the cancellation less the price of the days started, rounded once, half up. Recorded (with
/// a zero refund too) for every term csp billed, so no charge of that term is billed
/// afterwards; a term csp never billed (backfilled) records none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundIssued {
    /// The subscription.
    pub item: LineItem,
    /// Its order.
    pub order: OrderId,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// The term cancelled.
    pub term_number: u32,
    /// When the cancellation took effect.
    pub cancelled_at: Timestamp,
    /// What the term's charges billed: those up to the cancellation (B4), plus any that fell
    /// after it and were billed before the cancellation arrived (reversed in full).
    pub billed: Money,
    /// Days of the term started (each started day counts as used).
    pub days_used: u32,
    /// The term's calendar days.
    pub term_days: u32,
    /// The price of the days used.
    pub used: Money,
    /// What is refunded: the B4 refund (billed up to the cancellation less `used`, at least
    /// zero, at most that) plus every charge billed for after the cancellation.
    pub refund: Money,
    /// The charges it refunds (their numbers in the term): the lines it corrects.
    pub charges: Vec<u32>,
}

/// A credit (RULES.md B5: a cancelled perpetual purchase, 100%; B7: an approved refund request,
/// the approved amount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditIssued {
    /// Why.
    pub reason: CreditReason,
    /// The order it concerns, when it concerns one.
    pub order: Option<OrderId>,
    /// The customer.
    pub customer: TenantId,
    /// The selling partner.
    pub partner: TenantId,
    /// The amount credited (positive: the invoice subtracts it).
    pub amount: Money,
}

/// An invoice was issued (RULES.md B2, B8): month M closed for this partner and currency. From
/// now on it never changes; what still arrives for M is a correcting line on a later invoice.
/// It records the invoice's head — totals and a hash of the lines, not the lines (an event must
/// fit on the bus) — exactly as `get_invoice` and `preview_invoice` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    /// Number, partner, month, currency, line count, totals and lines hash.
    pub invoice: InvoiceHead,
}

/// Month M is closed: every invoice of M is issued (each an [`InvoiceIssued`] before this), and
/// anything effective in M from now on lands on a later invoice, as a correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthClosed {
    /// The month.
    pub month: Month,
    /// How many invoices it issued.
    pub invoices: u32,
}

/// Stream names of billing's aggregates.
pub mod stream {
    use super::*;

    /// What billing records about one purchased item: its charges and its refund.
    pub fn item(item: &LineItem) -> String {
        match item {
            LineItem::Subscription(s) => format!("billing-subscription/{s}"),
            LineItem::Perpetual(p) => format!("billing-perpetual/{p}"),
        }
    }

    /// A credit's stream.
    pub fn credit(reason: &CreditReason) -> String {
        match reason {
            CreditReason::PerpetualCancelled { purchase } => {
                format!("billing-perpetual/{purchase}")
            }
            CreditReason::RefundApproved { refund_request } => {
                format!("billing-refund-request/{refund_request}")
            }
        }
    }

    /// An invoice.
    pub fn invoice(partner: TenantId, month: Month, currency: Currency) -> String {
        format!("invoice/{partner}/{month}/{currency}")
    }

    /// A month's close.
    pub fn month(month: Month) -> String {
        format!("month/{month}")
    }
}
