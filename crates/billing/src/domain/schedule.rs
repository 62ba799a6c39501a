//! A term's charges (RULES.md B1): when each falls and how much it is.
//!
//! - **monthly**: one charge per month of the term, on the term start's monthly anniversaries,
//!   each counted from the start (a day past a month's end falls on its last day: a term
//!   starting Jan 31 is charged Jan 31, Feb 28, Mar 31, Apr 30, …);
//! - **annual**: one per year of the term, on its anniversaries;
//! - **triennial**: one for the three-year term, at its start;
//! - **one-time** (perpetual software): one, at purchase.
//!
//! The charges add up exactly to the term's price × quantity. **The remainder rule:** the total
//! is divided evenly in minor units and the remainder, if any, is carried one minor unit each by
//! the first charges — so no two charges of a term differ by more than one minor unit, and the
//! earliest charges are never the smaller ones (1,000.00 over 12 months: four charges of 83.34
//! and eight of 83.33).

use csp_events::money::Money;
use csp_events::ordering::{BillingPlan, Term};
use csp_events::Timestamp;

/// One charge of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// Which charge of the term, from 1.
    pub number: u32,
    /// How many charges the term has.
    pub of: u32,
    /// When it falls (B2: the invoice of this instant's calendar month carries it).
    pub at: Timestamp,
    /// The period it pays for: from `at`...
    pub period_start: Timestamp,
    /// ...to here (exclusive); for a one-time charge, the purchase itself (`at`).
    pub period_end: Timestamp,
    /// What it costs.
    pub amount: Money,
}

/// Why a term cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The billing plan cannot bill the term (ordering refuses such a line, RULES.md M3).
    #[error("billing plan {plan:?} cannot bill a {term:?} term")]
    PlanNotForTerm {
        /// The plan.
        plan: BillingPlan,
        /// The term.
        term: Term,
    },
    /// A negative total: prices are never negative.
    #[error("a term's total cannot be negative: {0}")]
    Negative(Money),
    /// A date past the calendar's range.
    #[error("the term runs past the calendar's range")]
    OutOfRange,
}

/// How many months each charge of `plan` covers for `term`, and how many charges there are.
fn cadence(term: Term, plan: BillingPlan) -> Result<(u32, u32), ScheduleError> {
    let refused = Err(ScheduleError::PlanNotForTerm { plan, term });
    match (term.months(), plan) {
        (None, BillingPlan::OneTime) => Ok((0, 1)),
        (None, _) | (Some(_), BillingPlan::OneTime) => refused,
        (Some(m), BillingPlan::Monthly) => Ok((1, m)),
        (Some(m), BillingPlan::Annual) => Ok((12, m / 12)),
        (Some(36), BillingPlan::Triennial) => Ok((36, 1)),
        (Some(_), BillingPlan::Triennial) => refused,
    }
}

/// The charges of a term of `term` starting at `start` (a perpetual purchase: its purchase
/// time), billed by `plan`, whose whole price is `total` (the term's price × quantity).
pub fn schedule(
    start: Timestamp,
    term: Term,
    plan: BillingPlan,
    total: Money,
) -> Result<Vec<Charge>, ScheduleError> {
    let (_, count) = cadence(term, plan)?;
    (1..=count)
        .map(|n| charge(start, term, plan, total, n)?.ok_or(ScheduleError::OutOfRange))
        .collect()
}

/// When charge `number` (from 1) of that schedule falls, `None` past its last: what the
/// agenda needs, one date computation.
pub fn charge_at(
    start: Timestamp,
    term: Term,
    plan: BillingPlan,
    number: u32,
) -> Result<Option<Timestamp>, ScheduleError> {
    let (every, count) = cadence(term, plan)?;
    if number == 0 || number > count {
        return Ok(None);
    }
    start
        .plus_months((number - 1) * every)
        .map(Some)
        .ok_or(ScheduleError::OutOfRange)
}

/// Charge `number` (from 1) of that schedule, `None` past its last: one charge costs one date
/// computation, so a term's next charge is found without laying out all 36 of a monthly P3Y.
pub fn charge(
    start: Timestamp,
    term: Term,
    plan: BillingPlan,
    total: Money,
    number: u32,
) -> Result<Option<Charge>, ScheduleError> {
    if total.amount_minor < 0 {
        return Err(ScheduleError::Negative(total));
    }
    let (every, count) = cadence(term, plan)?;
    if number == 0 || number > count {
        return Ok(None);
    }
    let k = number - 1;
    let n = i64::from(count);
    let (base, remainder) = (total.amount_minor / n, total.amount_minor % n);
    let at = start
        .plus_months(k * every)
        .ok_or(ScheduleError::OutOfRange)?;
    let period_end = if every == 0 {
        at
    } else {
        start
            .plus_months((k + 1) * every)
            .ok_or(ScheduleError::OutOfRange)?
    };
    let extra = i64::from(i64::from(k) < remainder);
    Ok(Some(Charge {
        number,
        of: count,
        at,
        period_start: at,
        period_end,
        amount: Money::new(base + extra, total.currency),
    }))
}
