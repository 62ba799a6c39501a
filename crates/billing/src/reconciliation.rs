//! The reconciliation export: an invoice's lines in the 46 columns of Partner Center's
//! new-commerce invoice reconciliation file, in its order, written with the `csv` crate.
//!
//! What csp fills (the rest stays empty — csp does not know it):
//! - amounts as decimals at the currency's minor-unit precision (`1406.36`, JPY `1406`);
//!   refunds and credits negative;
//! - `ChargeType`: `new` (first charge of a first term, a perpetual purchase), `cycleCharge`
//!   (a later installment), `renew` (first charge of a renewed term), `cancelImmediate` (a
//!   prorated refund, a perpetual purchase's credit), `credit` (an approved refund request);
//! - tax: csp prices exclude tax except for customers in Australia and Brazil (RULES.md M2).
//!   A tax-exclusive line has `Subtotal` = `Total` = the amount and `TaxTotal` `0.00` (the tax
//!   is the partner's billing system's to add); a tax-inclusive line has `Subtotal` = `Total` =
//!   the amount, `TaxTotal` empty (included, not broken out) and `PriceAdjustmentDescription`
//!   `Price includes tax`;
//! - dates as `YYYY-MM-DD` (UTC); `PCToBCExchangeRate` 1 (csp bills in the pricing currency);
//! - `AlternateId` the line (`CSP-202701-0001#3`), `ReferenceId` the lines a refund or credit
//!   corrects, or the refund request a credit approves.
//!
//! A cell a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`, or a tab
//! or carriage return) is neutralised with a leading `'` — except a negative amount, which is
//! a number, not a formula.

use csp_events::billing::{ChargeType, InvoiceLine, LineKind};
use csp_events::money::Money;
use csp_events::ordering::{BillingPlan, LineItem, Term};
use csp_events::Timestamp;

use crate::state::{key, Invoice, State};

/// The columns, in the file's order.
pub const COLUMNS: [&str; 46] = [
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "InvoiceNumber",
    "MpnId",
    "ResellerMpnId",
    "OrderId",
    "OrderDate",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "Subtotal",
    "TaxTotal",
    "Total",
    "Currency",
    "PriceAdjustmentDescription",
    "PublisherName",
    "PublisherId",
    "SubscriptionDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "TermAndBillingCycle",
    "EffectiveUnitPrice",
    "UnitType",
    "AlternateId",
    "BillableQuantity",
    "BillingFrequency",
    "PricingCurrency",
    "PCToBCExchangeRate",
    "PCToBCExchangeRateDate",
    "MeterDescription",
    "ReservationOrderId",
    "CreditReasonCode",
    "SubscriptionStartDate",
    "SubscriptionEndDate",
    "ReferenceId",
    "ProductQualifiers",
    "PromotionId",
];

/// An amount as a decimal at its currency's precision, without the currency code.
pub fn decimal(m: Money) -> String {
    let s = m.to_string();
    match s.rsplit_once(' ') {
        Some((n, _)) => n.to_string(),
        None => s,
    }
}

fn date(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d").to_string()
}

/// A cell a spreadsheet would not run as a formula.
pub fn neutral(cell: String) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell,
    }
}

/// A negative amount stays a number; anything else text-like is neutralised.
fn amount(cell: String) -> String {
    let numeric = cell.strip_prefix('-').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    if numeric {
        cell
    } else {
        neutral(cell)
    }
}

fn term_text(term: Term, plan: BillingPlan) -> (&'static str, &'static str) {
    let t = match term {
        Term::P1Y => "One-Year commitment",
        Term::P3Y => "Three-Year commitment",
        Term::Perpetual => "One-Time purchase",
    };
    let p = match plan {
        BillingPlan::Monthly => "Monthly",
        BillingPlan::Annual => "Annual",
        BillingPlan::Triennial => "Triennial",
        BillingPlan::OneTime => "OneTime",
    };
    (t, p)
}

fn row(state: &State, inv: &Invoice, l: &InvoiceLine) -> Vec<String> {
    let item = l.item.and_then(|i| state.items.get(&key(&i)));
    let term = item.and_then(|i| {
        l.term_number
            .and_then(|n| i.term(n))
            .or_else(|| i.current())
    });
    let (term_cycle, frequency) = term.map_or((String::new(), String::new()), |t| {
        let (a, b) = term_text(t.term, t.plan);
        (format!("{a}, {} billing", b.to_lowercase()), b.to_string())
    });
    let charge_type = match (l.kind, l.charge_type, l.refund_request) {
        (LineKind::Charge, Some(ChargeType::Installment), _) => "cycleCharge",
        (LineKind::Charge, Some(ChargeType::Renewal), _) => "renew",
        (LineKind::Charge, _, _) => "new",
        (LineKind::Refund, ..) => "cancelImmediate",
        (LineKind::Credit, _, Some(_)) => "credit",
        (LineKind::Credit, _, None) => "cancelImmediate",
    };
    let credit_reason = match (l.kind, l.refund_request) {
        (LineKind::Charge, _) => "",
        (LineKind::Refund, _) => "Prorated refund: cancelled in the cancellation window",
        (LineKind::Credit, Some(_)) => "Approved refund request",
        (LineKind::Credit, None) => "Cancelled perpetual purchase: 100% credit",
    };
    let reference = match l.refund_request {
        Some(r) => r.to_string(),
        None => l
            .corrects
            .iter()
            .map(|r| format!("{}#{}", r.invoice, r.line))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let subscription = match l.item {
        Some(LineItem::Subscription(s)) => s.to_string(),
        Some(LineItem::Perpetual(p)) => p.to_string(),
        None => String::new(),
    };
    let opt = |s: Option<String>| s.unwrap_or_default();
    let money = |m: Option<Money>| m.map(decimal).unwrap_or_default();
    let total = decimal(l.amount);
    vec![
        inv.partner.to_string(),
        l.customer.to_string(),
        neutral(l.customer_name.clone()),
        neutral(l.customer_domain.clone()),
        l.customer_country.to_string(),
        inv.number.clone(),
        String::new(),
        String::new(),
        opt(l.order.map(|o| o.to_string())),
        opt(l.order_date.map(date)),
        neutral(opt(l.product.as_ref().map(|p| p.to_string()))),
        neutral(opt(l.sku.as_ref().map(|s| s.to_string()))),
        String::new(),
        String::new(),
        neutral(opt(l.product_name.clone())),
        charge_type.to_string(),
        money(l.unit_price),
        opt(l.quantity.map(|q| q.to_string())),
        amount(total.clone()),
        if l.tax_inclusive {
            String::new()
        } else {
            decimal(Money::new(0, l.amount.currency))
        },
        amount(total),
        inv.currency.to_string(),
        if l.tax_inclusive {
            "Price includes tax".into()
        } else {
            String::new()
        },
        String::new(),
        String::new(),
        neutral(opt(l.product_name.clone())),
        subscription,
        opt(l.period_start.map(date)),
        opt(l.period_end.map(date)),
        term_cycle,
        money(l.unit_price),
        String::new(),
        format!("{}#{}", inv.number, l.number),
        opt(l.quantity.map(|q| q.to_string())),
        frequency,
        inv.currency.to_string(),
        "1".into(),
        date(l.effective_at),
        String::new(),
        String::new(),
        credit_reason.to_string(),
        opt(term.map(|t| date(t.start))),
        opt(term
            .filter(|t| t.term != Term::Perpetual)
            .map(|t| date(t.end))),
        reference,
        String::new(),
        String::new(),
    ]
}

/// CSV text of `lines` of `inv`, with the header row first if `header`.
pub fn render(
    state: &State,
    inv: &Invoice,
    lines: &[InvoiceLine],
    header: bool,
) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if header {
        w.write_record(COLUMNS)?;
    }
    for l in lines {
        w.write_record(row(state, inv, l))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
