//! Rule B1 on the charge schedule: the worked examples with their exact figures, and a property
//! test against a deliberately simple reference model written here (not the domain's code).

use csp_billing::domain::schedule::{schedule, Charge, ScheduleError};
use csp_events::money::{Currency, Money};
use csp_events::ordering::{BillingPlan, Term};
use csp_events::Timestamp;
use proptest::prelude::*;

fn at(y: i32, mo: u32, d: u32, h: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, 0, 0).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

fn days(charges: &[Charge]) -> Vec<String> {
    charges
        .iter()
        .map(|c| c.at.to_datetime().format("%Y-%m-%d").to_string())
        .collect()
}

/// Proves rule B1: a monthly RDS CAL for 3 users bought on January 31 is charged on the
/// monthly anniversaries of its start, each counted from the start: Jan 31, Feb 28, Mar 31,
/// Apr 30, ... — 3 × $130.00 = $390.00 in twelve charges of $32.50.
#[test]
fn rule_b1_monthly_charges_fall_on_the_anniversaries_a_day_past_a_months_end_on_its_last_day() {
    let c = schedule(
        at(2027, 1, 31, 10),
        Term::P1Y,
        BillingPlan::Monthly,
        usd(3 * 13_000),
    )
    .unwrap();
    assert_eq!(
        days(&c),
        [
            "2027-01-31",
            "2027-02-28",
            "2027-03-31",
            "2027-04-30",
            "2027-05-31",
            "2027-06-30",
            "2027-07-31",
            "2027-08-31",
            "2027-09-30",
            "2027-10-31",
            "2027-11-30",
            "2027-12-31"
        ]
    );
    assert!(c.iter().all(|c| c.amount == usd(3_250)));
    assert_eq!(c[0].period_end, at(2027, 2, 28, 10));
    assert_eq!(c[11].period_end, at(2028, 1, 31, 10), "the term's end");
    assert_eq!((c[0].number, c[0].of), (1, 12));
}

/// Proves rule B1: a three-year SKU billed triennially (one charge at the start) and annually
/// (one on each anniversary) sums to the same total — SQL Server Standard, 10 users, $4,254.00
/// each: $42,540.00.
#[test]
fn rule_b1_a_triennial_and_an_annual_plan_of_one_p3y_sku_sum_to_the_same_total() {
    let total = usd(10 * 425_400);
    let tri = schedule(at(2026, 12, 1, 9), Term::P3Y, BillingPlan::Triennial, total).unwrap();
    let annual = schedule(at(2026, 12, 1, 9), Term::P3Y, BillingPlan::Annual, total).unwrap();
    assert_eq!(tri.len(), 1);
    assert_eq!(tri[0].amount, usd(4_254_000));
    assert_eq!(tri[0].period_end, at(2029, 12, 1, 9));
    assert_eq!(days(&annual), ["2026-12-01", "2027-12-01", "2028-12-01"]);
    assert!(annual.iter().all(|c| c.amount == usd(1_418_000)));
    let sum = |cs: &[Charge]| cs.iter().map(|c| c.amount.amount_minor).sum::<i64>();
    assert_eq!(sum(&tri), sum(&annual));
}

/// Proves rule B1: the remainder of the division is carried, one minor unit each, by the first
/// charges — A$217.00 over twelve months is four charges of A$18.09 and eight of A$18.08.
#[test]
fn rule_b1_a_remainder_is_carried_by_the_first_charges_and_the_sum_is_exact() {
    let aud = Money::new(21_700, Currency::AUD);
    let c = schedule(at(2026, 12, 5, 0), Term::P1Y, BillingPlan::Monthly, aud).unwrap();
    let amounts: Vec<i64> = c.iter().map(|c| c.amount.amount_minor).collect();
    assert_eq!(
        amounts,
        [1809, 1809, 1809, 1809, 1808, 1808, 1808, 1808, 1808, 1808, 1808, 1808]
    );
    assert_eq!(amounts.iter().sum::<i64>(), 21_700);
    assert!(c.iter().all(|c| c.amount.currency == Currency::AUD));
}

/// Proves rule B1 across a leap day: a term starting Feb 29 2028 is charged on the 29th of
/// each month and ends Feb 28 2029 (February 2029 has no 29th); a three-year term's annual
/// charges fall on Feb 28 in the years without a Feb 29.
#[test]
fn rule_b1_a_leap_year_term() {
    let monthly = schedule(
        at(2028, 2, 29, 12),
        Term::P1Y,
        BillingPlan::Monthly,
        usd(12_000),
    )
    .unwrap();
    assert_eq!(
        days(&monthly)[..3],
        ["2028-02-29", "2028-03-29", "2028-04-29"]
    );
    assert_eq!(monthly[11].at, at(2029, 1, 29, 12));
    assert_eq!(
        monthly[11].period_end,
        at(2029, 2, 28, 12),
        "the term ends Feb 28 2029"
    );
    let annual = schedule(
        at(2028, 2, 29, 12),
        Term::P3Y,
        BillingPlan::Annual,
        usd(30_000),
    )
    .unwrap();
    assert_eq!(days(&annual), ["2028-02-29", "2029-02-28", "2030-02-28"]);
}

/// Proves rule B1: perpetual software is charged once, at purchase; a plan that cannot bill a
/// term is refused.
#[test]
fn rule_b1_perpetual_is_one_charge_at_purchase_and_impossible_plans_are_refused() {
    let c = schedule(
        at(2026, 12, 3, 8),
        Term::Perpetual,
        BillingPlan::OneTime,
        usd(389_900),
    )
    .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].at, c[0].period_end, c[0].amount),
        (at(2026, 12, 3, 8), at(2026, 12, 3, 8), usd(389_900))
    );
    for (term, plan) in [
        (Term::P1Y, BillingPlan::Triennial),
        (Term::P1Y, BillingPlan::OneTime),
        (Term::Perpetual, BillingPlan::Monthly),
    ] {
        assert_eq!(
            schedule(at(2026, 1, 1, 0), term, plan, usd(100)),
            Err(ScheduleError::PlanNotForTerm { plan, term })
        );
    }
    assert!(schedule(at(2026, 1, 1, 0), Term::P1Y, BillingPlan::Annual, usd(-1)).is_err());
}

/// The reference model: the dates by counting calendar months by hand (no chrono month
/// arithmetic), the amounts by handing out minor units one at a time.
mod reference {
    pub fn days_in_month(y: i32, m: u32) -> u32 {
        match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            _ => 28,
        }
    }

    /// (year, month, day) `k` months after (y, m, d), clamped to the month's last day.
    pub fn add_months(y: i32, m: u32, d: u32, k: u32) -> (i32, u32, u32) {
        let index = (m - 1 + k) as i32;
        let (ny, nm) = (y + index / 12, (index % 12) as u32 + 1);
        (ny, nm, d.min(days_in_month(ny, nm)))
    }

    /// `total` minor units dealt to `n` charges one unit at a time, first charge first.
    pub fn deal(total: i64, n: usize) -> Vec<i64> {
        let mut out = vec![0i64; n];
        let mut left = total;
        let mut i = 0;
        while left > 0 {
            out[i % n] += 1;
            left -= 1;
            i += 1;
        }
        out
    }
}

fn plan_for(term: Term, k: u8) -> BillingPlan {
    match (term, k % 3) {
        (Term::Perpetual, _) => BillingPlan::OneTime,
        (Term::P1Y, 0) => BillingPlan::Annual,
        (Term::P1Y, _) => BillingPlan::Monthly,
        (Term::P3Y, 0) => BillingPlan::Annual,
        (Term::P3Y, 1) => BillingPlan::Triennial,
        (Term::P3Y, _) => BillingPlan::Monthly,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Proves rule B1 over random terms, plans, start days (28–31-day months, leap years) and
    /// totals: the charges fall where the reference model says, add up exactly to the total,
    /// differ by at most one minor unit, and the earliest are never the smaller.
    #[test]
    fn rule_b1_charges_match_the_reference_model(
        y in 2020i32..2040, m in 1u32..=12, d in 1u32..=31, h in 0u32..24,
        t in 0u8..3, p in 0u8..3, total in 0i64..100_000,
    ) {
        let d = d.min(reference::days_in_month(y, m));
        let term = [Term::P1Y, Term::P3Y, Term::Perpetual][t as usize];
        let plan = plan_for(term, p);
        let c = schedule(at(y, m, d, h), term, plan, usd(total)).unwrap();
        let step = match plan { BillingPlan::Monthly => 1, BillingPlan::Annual => 12, _ => 0 };
        for (k, charge) in c.iter().enumerate() {
            let (ey, em, ed) = reference::add_months(y, m, d, step * k as u32);
            prop_assert_eq!(charge.at, at(ey, em, ed, h));
        }
        let amounts: Vec<i64> = c.iter().map(|c| c.amount.amount_minor).collect();
        prop_assert_eq!(&amounts, &reference::deal(total, c.len()));
        prop_assert_eq!(amounts.iter().sum::<i64>(), total);
    }
}
