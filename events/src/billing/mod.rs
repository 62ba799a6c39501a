//! The billing service's part of the contract: its events (stored with postcard, published on
//! `csp.evt.billing.…`), its JSON queries (`csp.qry.billing.…`) and their replies, one file
//! each, and the value types they share.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{PurchaseId, RefundRequestId};
use crate::time::Timestamp;

pub mod events;
pub mod queries;
pub mod replies;

pub use events::*;
pub use queries::*;
pub use replies::*;

/// The service name: the second token of every billing subject.
pub const SERVICE: &str = "billing";

/// A calendar month, UTC: what an invoice covers (RULES.md B2). Written `YYYY-MM` everywhere,
/// in JSON and in the log alike, so a month reads the same in an event dump and in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// `year`-`month`, if `month` is 1 to 12 and the year has four digits.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1000..=9999).contains(&year))
            .then_some(Month { year, month })
    }

    /// The month an instant falls in.
    pub fn of(at: Timestamp) -> Month {
        use chrono::Datelike as _;
        let d = at.to_datetime();
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month of the year, 1 to 12.
    pub fn month(&self) -> u32 {
        self.month
    }

    /// The month after.
    pub fn next(&self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first instant.
    pub fn start(&self) -> Timestamp {
        Timestamp::ymd_hms(self.year, self.month, 1, 0, 0, 0).unwrap_or(Timestamp::from_micros(0))
    }

    /// The first instant after it: the next month's start.
    pub fn end(&self) -> Timestamp {
        self.next().start()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Why a month cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month: write YYYY-MM, e.g. 2027-01")]
pub struct MonthError(pub String);

impl FromStr for Month {
    type Err = MonthError;
    fn from_str(s: &str) -> Result<Month, MonthError> {
        let bad = || MonthError(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a charge is, as the reconciliation export's `ChargeType` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeType {
    /// The first charge of a subscription's first term (`new`).
    New,
    /// A later charge of a term (`cycleCharge`): a monthly or annual installment.
    Installment,
    /// The first charge of a renewed term (`renew`, RULES.md B3).
    Renewal,
    /// A perpetual purchase's one charge (`new`).
    OneTime,
}

/// Why a credit was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditReason {
    /// A perpetual purchase cancelled in its window: 100% of what it was charged (B5).
    PerpetualCancelled {
        /// The purchase.
        purchase: PurchaseId,
    },
    /// A refund request approved by support: the approved amount (B7).
    RefundApproved {
        /// The request.
        refund_request: RefundRequestId,
    },
}
