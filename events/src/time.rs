//! Business and record time. Stored as whole microseconds since the Unix epoch (a zigzag varint
//! in postcard, an RFC 3339 string in JSON), so that what a service holds in memory after deciding
//! is exactly what replay reads back: a nanosecond that did not survive encoding would make live
//! state and replayed state differ.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond precision. All csp times are UTC (RULES.md). The default is
/// the Unix epoch, a neutral start for folds.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp out of chrono's range, or text that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid RFC 3339 UTC timestamp: {0}")]
pub struct TimestampError(String);

impl Timestamp {
    /// The Unix epoch, a neutral default for empty state.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From microseconds since the epoch, as stored.
    pub const fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// Microseconds since the epoch, as stored.
    pub const fn as_micros(&self) -> i64 {
        self.0
    }

    /// Truncates to microseconds: the precision that survives storage.
    pub fn from_datetime(dt: DateTime<Utc>) -> Timestamp {
        Timestamp(dt.timestamp_micros())
    }

    /// From calendar fields; `None` when they name no instant. For tests, fixtures and data.
    pub fn ymd_hms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Timestamp> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .map(Timestamp::from_datetime)
    }

    /// The chrono view, for calendar arithmetic (months, days).
    pub fn to_datetime(&self) -> DateTime<Utc> {
        // Every i64 of microseconds is inside chrono's range (±262,000 years).
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// `self + delta`, `None` on overflow; deltas finer than a microsecond are truncated.
    pub fn checked_add(&self, delta: TimeDelta) -> Option<Timestamp> {
        let micros = delta.num_microseconds()?;
        self.0.checked_add(micros).map(Timestamp)
    }

    /// `self + hours`, the unit in which cancellation windows are stated.
    pub fn plus_hours(&self, hours: u32) -> Option<Timestamp> {
        self.0
            .checked_add(i64::from(hours).checked_mul(3_600_000_000)?)
            .map(Timestamp)
    }

    /// `self` plus `months` calendar months at the same time of day; a day the target month
    /// lacks becomes its last day (Jan 31 + 1 month = Feb 28 or 29). Terms end and monthly
    /// charges fall this way (ordering's term ends, billing's anniversaries: RULES.md B1).
    /// `None` past the calendar's range.
    pub fn plus_months(&self, months: u32) -> Option<Timestamp> {
        self.to_datetime()
            .checked_add_months(chrono::Months::new(months))
            .map(Timestamp::from_datetime)
    }

    /// `self - other`.
    pub fn since(&self, other: Timestamp) -> TimeDelta {
        TimeDelta::microseconds(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|dt| Timestamp::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampError(s.to_string()))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp::from_datetime(dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as \"2026-11-25T10:00:00Z\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_i64(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_rfc3339_and_postcard_is_micros() {
        let t = Timestamp::ymd_hms(2021, 10, 14, 0, 0, 0).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2021-10-14T00:00:00Z\""
        );
        let bytes = postcard::to_stdvec(&t).unwrap();
        assert_eq!(postcard::from_bytes::<Timestamp>(&bytes).unwrap(), t);
        let parsed: Timestamp = serde_json::from_str("\"2021-10-14T02:00:00+02:00\"").unwrap();
        assert_eq!(parsed, t);
    }

    #[test]
    fn nanoseconds_are_truncated_on_entry() {
        let dt = Utc.timestamp_opt(1, 123_456_789).unwrap();
        assert_eq!(Timestamp::from_datetime(dt).as_micros(), 1_123_456);
    }

    #[test]
    fn plus_hours_is_exact() {
        let t = Timestamp::ymd_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            t.plus_hours(168).unwrap(),
            Timestamp::ymd_hms(2026, 1, 8, 0, 0, 0).unwrap()
        );
    }
}
