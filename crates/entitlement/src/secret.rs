//! Product keys in plaintext: only ever in [`ProductKey`], which redacts itself in `Debug`, has
//! no `Serialize` and zeroes its memory on drop, so a key cannot reach an event, a log line or
//! an error by accident — the one place it travels is a `get_key` reply.

use std::fmt;

use zeroize::Zeroizing;

/// The characters Microsoft uses in product keys (no vowels, no look-alikes); keys since
/// Windows 8 also carry one `N`, which parsing accepts ([`csp_catalog::KEY_CHARS`]) and the
/// generator never writes.
pub const KEY_ALPHABET: &[u8; 24] = b"BCDFGHJKMPQRTVWXY2346789";

/// A product key (a MAK), in the form Microsoft issues it: five groups of five characters
/// separated by dashes (RULES.md K3).
pub struct ProductKey(Zeroizing<String>);

impl ProductKey {
    /// Parses a key as written in an import file: case and surrounding spaces do not matter,
    /// the dashes may be left out. Anything else is `None` (and the caller names the line,
    /// never the text).
    pub fn parse(text: &str) -> Option<ProductKey> {
        let chars = Zeroizing::new(csp_catalog::normalise_key(text)?);
        Some(ProductKey::from_normalised(&chars))
    }

    /// From 25 alphabet characters with no dashes.
    fn from_normalised(chars: &str) -> ProductKey {
        let mut key = Zeroizing::new(String::with_capacity(29));
        for (i, c) in chars.chars().enumerate() {
            if i > 0 && i % 5 == 0 {
                key.push('-');
            }
            key.push(c);
        }
        ProductKey(key)
    }

    /// A fresh random key, for the generator that fills pools for the demo and tests.
    pub fn generate() -> Result<ProductKey, getrandom::Error> {
        // Rejection sampling: only bytes below 240 (10 × 24) map evenly onto the alphabet.
        let mut chars = Zeroizing::new(String::with_capacity(25));
        let mut bytes = Zeroizing::new([0u8; 32]);
        while chars.len() < 25 {
            getrandom::fill(&mut bytes[..])?;
            for b in bytes.iter().filter(|b| **b < 240) {
                if chars.len() < 25 {
                    chars.push(KEY_ALPHABET[usize::from(*b) % KEY_ALPHABET.len()] as char);
                }
            }
        }
        Ok(ProductKey::from_normalised(&chars))
    }

    /// The key as shown: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key without dashes: what fingerprints are computed over, so `ABCDE-...` and
    /// `abcde...` are the same key.
    pub fn normalised(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.chars().filter(|c| *c != '-').collect())
    }
}

impl fmt::Debug for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProductKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_five_groups_of_five_whatever_its_case_and_dashes_and_debug_redacts_it() {
        let k = ProductKey::parse(" bcdfg-hjkmp-qrtvw-xy234-67896 ").unwrap();
        assert_eq!(k.expose(), "BCDFG-HJKMP-QRTVW-XY234-67896");
        let same = ProductKey::parse("BCDFGHJKMPQRTVWXY23467896").unwrap();
        assert_eq!(same.expose(), k.expose());
        assert_eq!(format!("{k:?}"), "ProductKey(<redacted>)");
        for bad in [
            "",
            "BCDFG-HJKMP-QRTVW-XY234-6789",
            "BCDFG-HJKMP-QRTVW-XY234-678966",
            "ACDFG-HJKMP-QRTVW-XY234-67896",
            "BCDFG-HJKMP-QRTVW-XY234-6789É",
        ] {
            assert!(ProductKey::parse(bad).is_none(), "{bad:?}");
        }
        let g = ProductKey::generate().unwrap();
        assert!(ProductKey::parse(g.expose()).is_some());
        assert_eq!(g.expose().len(), 29);
    }
}
