//! The prorated refund of a subscription cancelled in its window (RULES.md B4): what was billed
//! for the current term — its charges that fall at or before the cancellation — less the price
//! of the days used: the term's price × quantity × days started ÷ the term's calendar days,
//! rounded **once**, half up, to the minor unit. Each started day counts as used: a cancel at
//! the term's very start has used one day, one at 24 h 00 m 00 s two. The refund is never
//! negative and never more than was billed.

use csp_events::money::Money;
use csp_events::Timestamp;

use super::schedule::Charge;

const DAY_MICROS: i64 = 86_400_000_000;

/// How a refund was computed: every figure an invoice line or a support question needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refund {
    /// What the term's charges billed up to the cancellation.
    pub billed: Money,
    /// Days of the term started by the cancellation.
    pub days_used: u32,
    /// The term's calendar days.
    pub term_days: u32,
    /// The price of the days used (rounded once, half up).
    pub used: Money,
    /// What is refunded: `billed - used`, at least zero, at most `billed`.
    pub refund: Money,
}

/// Why a refund cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// The cancellation is outside the term.
    #[error("the cancellation at {at} is outside the term {start} to {end}")]
    OutsideTerm {
        /// The cancellation.
        at: Timestamp,
        /// The term's start.
        start: Timestamp,
        /// The term's end (exclusive).
        end: Timestamp,
    },
    /// A charge in another currency than the term's price.
    #[error("the term's charges are not all in {0}")]
    MixedCurrency(csp_events::money::Currency),
}

/// The B4 refund of a term `[start, end)` whose price × quantity is `total` and whose charges
/// are `charges`, cancelled at `at`.
pub fn prorated(
    start: Timestamp,
    end: Timestamp,
    total: Money,
    charges: &[Charge],
    at: Timestamp,
) -> Result<Refund, RefundError> {
    if at < start || at >= end {
        return Err(RefundError::OutsideTerm { at, start, end });
    }
    let currency = total.currency;
    if charges.iter().any(|c| c.amount.currency != currency) {
        return Err(RefundError::MixedCurrency(currency));
    }
    let billed: i64 = charges
        .iter()
        .filter(|c| c.at <= at)
        .map(|c| c.amount.amount_minor)
        .sum();
    // Terms end at the same time of day as they start (UTC has no DST): whole days; a part
    // day, were there one, counts whole.
    let span = end.as_micros() - start.as_micros();
    let term_days = (span + DAY_MICROS - 1) / DAY_MICROS;
    let days_used = ((at.as_micros() - start.as_micros()) / DAY_MICROS + 1).min(term_days);
    // Half up, once: (2 × total × used + days) ÷ (2 × days), in i128 so no product overflows.
    let numerator =
        2 * i128::from(total.amount_minor) * i128::from(days_used) + i128::from(term_days);
    let used = i64::try_from(numerator / (2 * i128::from(term_days))).unwrap_or(i64::MAX);
    let refund = (billed - used).clamp(0, billed.max(0));
    Ok(Refund {
        billed: Money::new(billed, currency),
        days_used: u32::try_from(days_used).unwrap_or(u32::MAX),
        term_days: u32::try_from(term_days).unwrap_or(u32::MAX),
        used: Money::new(used, currency),
        refund: Money::new(refund, currency),
    })
}

/// The calendar month (UTC) an instant falls in, as `(year, month)`: the invoice a charge,
/// refund or credit effective then lands on (RULES.md B2, B4, B5, B7).
pub fn invoice_month(at: Timestamp) -> (i32, u32) {
    use chrono::Datelike as _;
    let d = at.to_datetime();
    (d.year(), d.month())
}
