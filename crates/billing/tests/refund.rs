//! Rules B4 and B2 on the refund computation: the worked examples with their exact figures, and
//! properties over random terms and cancellation times.

use csp_billing::domain::refund::{invoice_month, prorated, RefundError};
use csp_billing::domain::schedule::schedule;
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

fn hours_after(t: Timestamp, h: i64) -> Timestamp {
    Timestamp::from_micros(t.as_micros() + h * 3_600_000_000)
}

/// Proves rule B4: a three-year SQL Server subscription for 10 users ($4,254.00 each, $42,540.00
/// for the term), billed annually from Dec 1 2026 09:00, cancelled on day 3 (50 hours in).
/// Billed so far: the first annual charge, $14,180.00. The term has 1,096 days (it spans Feb 29
/// 2028); 3 days started: used = 4,254,000 × 3 ÷ 1,096 = 11,644.16 → 11,644 (half up, once).
/// Refund: $14,180.00 − $116.44 = $14,063.56, on the December 2026 invoice (B2).
#[test]
fn rule_b4_a_p3y_annual_subscription_for_10_users_cancelled_on_day_3() {
    let start = at(2026, 12, 1, 9);
    let end = start.plus_months(36).unwrap();
    let total = usd(10 * 425_400);
    let charges = schedule(start, Term::P3Y, BillingPlan::Annual, total).unwrap();
    let cancel = hours_after(start, 50);
    let r = prorated(start, end, total, &charges, cancel).unwrap();
    assert_eq!(r.billed, usd(1_418_000));
    assert_eq!((r.days_used, r.term_days), (3, 1096));
    assert_eq!(r.used, usd(11_644));
    assert_eq!(r.refund, usd(1_406_356));
    assert_eq!(invoice_month(cancel), (2026, 12));
}

/// Proves rule B4: a monthly RDS CAL for 3 users ($390.00 a year) bought Jan 31 2027 10:00 and
/// cancelled at hour 100: billed $32.50 (the first monthly charge); 5 days started of 365:
/// used = 39,000 × 5 ÷ 365 = 534.25 → 534; refund $27.16. Rounding is half up: at 73 days the
/// used price is exactly 7,800.00; at day 2, 213.70 → 214.
#[test]
fn rule_b4_a_monthly_rds_cal_cancelled_at_hour_100() {
    let start = at(2027, 1, 31, 10);
    let end = start.plus_months(12).unwrap();
    let total = usd(3 * 13_000);
    let charges = schedule(start, Term::P1Y, BillingPlan::Monthly, total).unwrap();
    let r = prorated(start, end, total, &charges, hours_after(start, 100)).unwrap();
    assert_eq!((r.billed, r.days_used, r.term_days), (usd(3_250), 5, 365));
    assert_eq!((r.used, r.refund), (usd(534), usd(2_716)));
    let day2 = prorated(start, end, total, &charges, hours_after(start, 24)).unwrap();
    assert_eq!(day2.days_used, 2, "a started day counts as used");
    assert_eq!(day2.used, usd(214), "213.70 rounds up");
    let first = prorated(start, end, total, &charges, start).unwrap();
    assert_eq!(first.days_used, 1, "the first day is started at the start");
}

/// Proves rule B4: nothing refunded beyond what was billed, never negative; a cancellation
/// outside the term is refused.
#[test]
fn rule_b4_a_refund_is_never_negative_nor_more_than_billed() {
    let start = at(2027, 1, 1, 0);
    let end = start.plus_months(12).unwrap();
    let total = usd(12_000);
    let charges = schedule(start, Term::P1Y, BillingPlan::Monthly, total).unwrap();
    // Day 40: billed 2 × 1,000, used 12,000 × 40 ÷ 365 = 1,315.07 → 1,315; refund 685.
    let r = prorated(start, end, total, &charges, hours_after(start, 39 * 24)).unwrap();
    assert_eq!(
        (r.billed, r.used, r.refund),
        (usd(2_000), usd(1_315), usd(685))
    );
    // Feb 28, day 59 started: two charges billed (Jan 1, Feb 1), used 12,000 × 59 ÷ 365 =
    // 1,939.73 → 1,940: 60 refunded.
    let r = prorated(start, end, total, &charges, hours_after(start, 58 * 24)).unwrap();
    assert_eq!(
        (r.billed, r.used, r.refund),
        (usd(2_000), usd(1_940), usd(60))
    );
    // An annual plan billed up front, cancelled on its last day: used ≈ all, refund small.
    let annual = schedule(start, Term::P1Y, BillingPlan::Annual, total).unwrap();
    let r = prorated(start, end, total, &annual, hours_after(start, 364 * 24)).unwrap();
    assert_eq!((r.used, r.refund), (usd(12_000), usd(0)));
    assert!(matches!(
        prorated(start, end, total, &charges, end),
        Err(RefundError::OutsideTerm { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Proves rule B4 over random terms, plans, totals and cancellation times: 0 ≤ refund ≤
    /// billed; billed is the charges at or before the cancellation; used is within half a
    /// minor unit of the exact proportion (rounded once).
    #[test]
    fn rule_b4_refunds_stay_within_what_was_billed(
        y in 2020i32..2040, m in 1u32..=12, d in 1u32..=28, h in 0u32..24,
        three in any::<bool>(), monthly in any::<bool>(), total in 0i64..10_000_000,
        frac in 0u64..1_000_000,
    ) {
        let start = at(y, m, d, h);
        let term = if three { Term::P3Y } else { Term::P1Y };
        let plan = if monthly { BillingPlan::Monthly } else { BillingPlan::Annual };
        let end = start.plus_months(term.months().unwrap()).unwrap();
        let charges = schedule(start, term, plan, usd(total)).unwrap();
        let span = (end.as_micros() - start.as_micros()) as u64;
        let cancel = Timestamp::from_micros(start.as_micros() + (span / 1_000_000 * frac) as i64);
        let r = prorated(start, end, usd(total), &charges, cancel).unwrap();
        let billed: i64 = charges.iter().filter(|c| c.at <= cancel).map(|c| c.amount.amount_minor).sum();
        prop_assert_eq!(r.billed, usd(billed));
        prop_assert!(r.refund.amount_minor >= 0 && r.refund.amount_minor <= billed);
        // |used − total × days ÷ term days| ≤ ½, in integers: |2·used·T − 2·total·d| ≤ T.
        let (t, dd) = (i128::from(r.term_days), i128::from(r.days_used));
        let gap = (2 * i128::from(r.used.amount_minor) * t - 2 * i128::from(total) * dd).abs();
        prop_assert!(gap <= t, "used {} for {} of {} days of {}", r.used, dd, t, total);
    }
}
