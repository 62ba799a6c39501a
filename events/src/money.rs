//! Money: integer minor units plus an ISO 4217 currency. No floating point anywhere near money;
//! every operation is checked, so an overflow or a currency mix-up is an error, never a wrong sum.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 alphabetic currency code known to csp, with its minor-unit exponent.
///
/// The table is closed on purpose: a typo such as `"USX"` is refused at the edge instead of
/// creating a currency nobody can invoice in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// ISO 4217 codes of the markets csp sells in, and their minor-unit exponents.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// A currency code that is malformed or not in csp's table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency {0:?}: expected an ISO 4217 code such as \"USD\", \"EUR\", \"AUD\" or \"BRL\"")]
pub struct CurrencyError(pub String);

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Australian dollar.
    pub const AUD: Currency = Currency(*b"AUD");
    /// Brazilian real.
    pub const BRL: Currency = Currency(*b"BRL");

    /// The code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // Only ever built from ASCII entries of CURRENCIES.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point (2 for USD, 0 for JPY): how to show minor units.
    pub fn exponent(&self) -> u8 {
        CURRENCIES
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map(|(_, e)| *e)
            .unwrap_or(2)
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == s)
            .map(|(c, _)| {
                let b = c.as_bytes();
                Currency([b[0], b[1], b[2]])
            })
            .ok_or_else(|| CurrencyError(s.to_string()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents) of one currency. Negative amounts are allowed (a refund
/// line); arithmetic across currencies is an error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units: 1234 USD means $12.34.
    pub amount_minor: i64,
    /// The currency the amount is in.
    pub currency: Currency,
}

/// Why a money operation has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit in 64 bits of minor units.
    #[error("amount overflow")]
    Overflow,
    /// Division by zero parts.
    #[error("cannot split into zero parts")]
    ZeroParts,
}

impl Money {
    /// `amount_minor` of `currency`.
    pub const fn new(amount_minor: i64, currency: Currency) -> Money {
        Money {
            amount_minor,
            currency,
        }
    }

    /// Nothing, in `currency`: the start of a sum.
    pub const fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    fn same(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// `self + other`, same currency only.
    pub fn checked_add(&self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`, same currency only.
    pub fn checked_sub(&self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `self × n`, e.g. a unit price times a quantity.
    pub fn checked_mul(&self, n: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(n)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// Splits into `parts` amounts that add up exactly to `self`: the first `remainder` parts
    /// carry one extra minor unit. This is how a term price becomes monthly charges without
    /// losing or inventing a cent (RULES.md B1).
    pub fn split(&self, parts: u32) -> Result<Vec<Money>, MoneyError> {
        if parts == 0 {
            return Err(MoneyError::ZeroParts);
        }
        let n = i64::from(parts);
        let base = self.amount_minor.div_euclid(n);
        let rem = self.amount_minor.rem_euclid(n);
        Ok((0..n)
            .map(|i| Money::new(base + i64::from(i < rem), self.currency))
            .collect())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent());
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        if exp == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let scale = 10u64.pow(exp);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale,
            abs % scale,
            self.currency,
            width = exp as usize
        )
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn currencies_are_a_closed_set() {
        assert_eq!("AUD".parse::<Currency>().unwrap(), Currency::AUD);
        assert!("USX".parse::<Currency>().is_err());
        assert!("usd".parse::<Currency>().is_err());
        assert!(serde_json::from_str::<Currency>("\"XYZ\"").is_err());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let a = Money::new(100, Currency::USD);
        let b = Money::new(100, Currency::EUR);
        assert_eq!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch(Currency::USD, Currency::EUR))
        );
    }

    #[test]
    fn overflow_is_an_error() {
        let a = Money::new(i64::MAX, Currency::USD);
        assert_eq!(
            a.checked_add(Money::new(1, Currency::USD)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(a.checked_mul(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn display_uses_the_exponent() {
        assert_eq!(
            Money::new(123_456, Currency::USD).to_string(),
            "1234.56 USD"
        );
        assert_eq!(Money::new(-5, Currency::EUR).to_string(), "-0.05 EUR");
        assert_eq!(
            Money::new(500, "JPY".parse().unwrap()).to_string(),
            "500 JPY"
        );
    }

    #[test]
    fn json_shape() {
        let m = Money::new(1999, Currency::BRL);
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, r#"{"amount_minor":1999,"currency":"BRL"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1.5,"currency":"BRL"}"#).is_err());
    }

    proptest! {
        #[test]
        fn split_adds_up_exactly(amount in -1_000_000_000_000i64..1_000_000_000_000, parts in 1u32..=36) {
            let m = Money::new(amount, Currency::USD);
            let pieces = m.split(parts).unwrap();
            prop_assert_eq!(pieces.len(), parts as usize);
            let sum = pieces.iter().try_fold(Money::zero(Currency::USD), |acc, p| acc.checked_add(*p)).unwrap();
            prop_assert_eq!(sum, m);
            let min = pieces.iter().map(|p| p.amount_minor).min().unwrap();
            let max = pieces.iter().map(|p| p.amount_minor).max().unwrap();
            prop_assert!(max - min <= 1);
        }

        #[test]
        fn add_then_sub_is_identity(a in any::<i32>(), b in any::<i32>()) {
            let x = Money::new(i64::from(a), Currency::EUR);
            let y = Money::new(i64::from(b), Currency::EUR);
            prop_assert_eq!(x.checked_add(y).unwrap().checked_sub(y).unwrap(), x);
        }
    }
}
