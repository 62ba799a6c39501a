//! Countries and catalog references, the small value types orders are made of.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 3166-1 alpha-2 country code (`"AU"`, `"HT"`, and the user-assigned `"XK"` for Kosovo).
/// Checked for shape only: the catalog, not this type, says which markets are restricted.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

/// A country code that is not two upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid country code {0:?}: expected two upper-case letters (ISO 3166-1 alpha-2), such as \"AU\"")]
pub struct CountryCodeError(pub String);

impl CountryCode {
    /// The code, e.g. `"AU"`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for CountryCode {
    type Err = CountryCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(CountryCode([b[0], b[1]]))
        } else {
            Err(CountryCodeError(s.to_string()))
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! catalog_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks the id's shape: 1 to 64 of `a-z`, `0-9`, `-`, `_`, `.`.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                let ok = !s.is_empty()
                    && s.len() <= 64
                    && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'));
                if ok {
                    Ok($name(s))
                } else {
                    Err(format!(
                        "invalid {} {:?}: expected 1 to 64 of a-z, 0-9, '-', '_', '.'",
                        stringify!($name),
                        s
                    ))
                }
            }

            /// The id as written in the catalog.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

catalog_id!(
    /// A catalog product, e.g. `windows-server-2022-datacenter`.
    ProductId
);
catalog_id!(
    /// A SKU of a product, e.g. `16-core-p3y`.
    SkuId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_upper_case_letters() {
        assert_eq!("XK".parse::<CountryCode>().unwrap().as_str(), "XK");
        assert!("au".parse::<CountryCode>().is_err());
        assert!("AUS".parse::<CountryCode>().is_err());
        assert!(serde_json::from_str::<CountryCode>("\"H1\"").is_err());
    }

    #[test]
    fn catalog_ids_have_a_safe_shape() {
        assert!(ProductId::new("sql-server-2022-standard").is_ok());
        assert!(ProductId::new("").is_err());
        assert!(SkuId::new("Bad Sku").is_err());
        assert!(serde_json::from_str::<SkuId>("\"a.b\"").is_ok());
    }
}
