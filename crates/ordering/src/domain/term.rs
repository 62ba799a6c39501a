//! Calendar arithmetic of terms. A term is whole calendar months from its start, at the same
//! time of day (a P1Y bought 2026-11-02T09:00Z ends 2027-11-02T09:00Z, exclusive); a start on a
//! day the end month lacks ends on that month's last day (2024-02-29 + P1Y = 2025-02-28), as
//! chrono's month addition does. Each renewal counts from the previous term's end, so terms
//! chain without gaps or overlaps.

use csp_events::ordering::Term;
use csp_events::Timestamp;

/// The end (exclusive) of a term of `term` starting at `start`; `None` for perpetual, or past
/// the calendar's range (hundreds of thousands of years away).
pub fn term_end(start: Timestamp, term: Term) -> Option<Timestamp> {
    start.plus_months(term.months()?)
}

/// Midnight UTC of `at`'s day: "today" for rule O6 (orders dated before today enter only by
/// backfill).
pub fn start_of_day(at: Timestamp) -> Timestamp {
    let dt = at.to_datetime();
    let midnight = dt.date_naive().and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    midnight.map_or(at, Timestamp::from_datetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i32, mo: u32, d: u32, h: u32) -> Timestamp {
        Timestamp::ymd_hms(y, mo, d, h, 0, 0).unwrap()
    }

    #[test]
    fn terms_are_calendar_months_at_the_same_time_of_day() {
        assert_eq!(
            term_end(t(2026, 11, 2, 9), Term::P1Y),
            Some(t(2027, 11, 2, 9))
        );
        assert_eq!(
            term_end(t(2026, 11, 2, 9), Term::P3Y),
            Some(t(2029, 11, 2, 9))
        );
        assert_eq!(
            term_end(t(2024, 2, 29, 0), Term::P1Y),
            Some(t(2025, 2, 28, 0))
        );
        assert_eq!(term_end(t(2026, 1, 1, 0), Term::Perpetual), None);
    }

    #[test]
    fn today_starts_at_midnight_utc() {
        assert_eq!(start_of_day(t(2026, 11, 2, 9)), t(2026, 11, 2, 0));
        assert_eq!(start_of_day(t(2026, 11, 2, 0)), t(2026, 11, 2, 0));
    }
}
