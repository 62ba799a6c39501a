//! # csp-catalog: what csp sells, and the policy it sells it under
//!
//! The catalog is **data**, not code: products, SKUs, terms, billing plans, prices, download
//! options, and the versioned selling policy (cut-over date, cancellation windows, tax-inclusive
//! markets, markets without Azure Reservations) live in hand-edited TOML files — the shipped
//! sample is `deploy/catalog/` — so an operator changes a price or a window without a release.
//! TOML because operators edit it by hand and the `toml` crate is a well-kept parser that reports
//! positions.
//!
//! - [`model`]: the validated catalog a decider trusts ([`Catalog`], [`Product`], [`Sku`],
//!   [`TermOffer`], [`Downloads`], [`Policy`]);
//! - [`load`]: reading a directory, and refusing a bad file with an error that names the file,
//!   the entry and the field ([`CatalogError`], [`Problem`]);
//! - [`error`]: those errors.
//!
//! Policy is versioned: [`Catalog::policy_at`] gives the version in force at an instant, and
//! every purchase records the version it was sold under (`PolicyRef` in the contract), so a new
//! version applies to new purchases only.
//!
//! This crate does no I/O except in [`Catalog::load`]; everything else is pure lookups, so the
//! ordering domain can hold a `Catalog` and stay pure.

#![warn(missing_docs)]

pub mod error;
pub mod load;
pub mod model;

pub use error::{CatalogError, Problem};
pub use load::CatalogFile;
pub use model::{
    normalise_key, Catalog, Downloads, KindKey, Policy, Product, Sku, TermKey, TermOffer, KEY_CHARS,
};

/// The sample catalog shipped in this repository (`deploy/catalog/`), for tests, the demo and
/// local runs; a deployment points the service at its own directory.
pub fn sample_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/catalog")
}

/// The sample catalog compiled into the binary, so `csp up` and `csp demo` need nothing beside
/// the executable. The same files as [`sample_dir`]; a deployment gives its own directory.
pub fn embedded() -> Result<Catalog, CatalogError> {
    macro_rules! file {
        ($path:literal) => {
            CatalogFile::new(
                concat!("deploy/catalog/", $path),
                include_str!(concat!("../../../deploy/catalog/", $path)),
            )
        };
    }
    Catalog::from_files(
        &file!("policy.toml"),
        &[
            file!("products/azure-reservations.toml"),
            file!("products/extended-security-updates.toml"),
            file!("products/linux-software-plans.toml"),
            file!("products/sql-server-2022.toml"),
            file!("products/windows-server-2022.toml"),
        ],
    )
}

#[cfg(test)]
mod embedded_tests {
    /// The embedded copy must be the whole sample: a product file added to `deploy/catalog`
    /// and not to [`super::embedded`] fails here.
    #[test]
    fn the_embedded_catalog_is_the_sample_directory() {
        let embedded = super::embedded().expect("embedded catalog");
        let loaded = super::Catalog::load(super::sample_dir()).expect("sample catalog");
        assert_eq!(embedded, loaded);
    }
}
