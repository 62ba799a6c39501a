//! The catalog as the rest of csp sees it: validated, immutable, and looked up by id. Every value
//! here has passed the loader's checks (see [`crate::load`]), so a decider can trust it: a term
//! offer always has at least one billing plan and a positive price in every catalog currency.

use std::collections::{BTreeMap, BTreeSet};

use csp_events::market::{CountryCode, ProductId, SkuId};
use csp_events::money::{Currency, Money};
use csp_events::ordering::{BillingPlan, ProductKind, Term};
use csp_events::Timestamp;
use serde::Serialize;

/// The whole catalog: products and the policy versions, as loaded from `deploy/catalog/`.
///
/// It is plain data, cheap to share behind an `Arc`: the ordering service holds one and hands it
/// to its deciders, which never read files themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub(crate) currencies: BTreeSet<Currency>,
    pub(crate) products: BTreeMap<ProductId, Product>,
    /// Sorted by `effective_from`, strictly increasing, and so by `version`.
    pub(crate) policies: Vec<Policy>,
    /// The generic KMS client keys Microsoft publishes, normalised (RULES.md K4: an import
    /// holding one is refused).
    pub(crate) kms_client_keys: BTreeSet<String>,
}

/// The characters of a product key: Microsoft's 24, and `N`, which keys since Windows 8 carry
/// once.
pub const KEY_CHARS: &str = "BCDFGHJKMNPQRTVWXY2346789";

/// A product key as 25 upper-case characters without dashes, if it is one (case, spaces around
/// it and dashes ignored).
pub fn normalise_key(text: &str) -> Option<String> {
    let normal: String = text
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (normal.len() == 25 && normal.chars().all(|c| KEY_CHARS.contains(c))).then_some(normal)
}

impl Catalog {
    /// Whether `key` (normalised: 25 characters, no dashes) is one of the generic KMS client
    /// keys Microsoft publishes: CSP activates by MAK only (RULES.md K4).
    pub fn is_kms_client_key(&self, normalised: &str) -> bool {
        self.kms_client_keys.contains(normalised)
    }

    /// The currencies every price is given in: a customer billed in another currency cannot be
    /// priced, so ordering refuses to add one.
    pub fn currencies(&self) -> &BTreeSet<Currency> {
        &self.currencies
    }

    /// A product by id; `None` if the catalog has no such product (`unknown_product`).
    pub fn product(&self, id: &ProductId) -> Option<&Product> {
        self.products.get(id)
    }

    /// Every product, by id: the review screen and tests walk them.
    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    /// The policy in force at `at`: the latest version whose `effective_from` is at or before
    /// it. `None` before the first version: nothing can be sold (or backfilled) then, because
    /// no window, cut-over or market list applies.
    pub fn policy_at(&self, at: Timestamp) -> Option<&Policy> {
        self.policies.iter().rev().find(|p| p.effective_from <= at)
    }

    /// A policy by version number: what a purchase recorded it was sold under.
    pub fn policy(&self, version: u32) -> Option<&Policy> {
        self.policies.iter().find(|p| p.version == version)
    }

    /// Every policy version, oldest first.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
}

/// A product: what a customer buys, with the facts that decide which rules apply to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Catalog id, e.g. `windows-server-2022-datacenter`.
    pub id: ProductId,
    /// Display name, copied into every purchase so later renames do not rewrite history.
    pub name: String,
    /// Subscription, perpetual or reservation: decides terms, windows and market rules.
    pub kind: ProductKind,
    /// `false` for RedHat and SUSE plans, which can never be cancelled or exchanged (rule O9).
    pub cancellable: bool,
    /// Sold as a license only: no keys and no downloads (RULES.md K1).
    pub license_only: bool,
    /// A link to the product's own installation instructions (Extended Security Updates,
    /// RULES.md K6); shown with its keys and downloads.
    pub installation_instructions: Option<String>,
    /// The SKUs, by id.
    pub skus: BTreeMap<SkuId, Sku>,
}

impl Product {
    /// A SKU by id; `None` is `unknown_product`.
    pub fn sku(&self, id: &SkuId) -> Option<&Sku> {
        self.skus.get(id)
    }
}

/// One sellable variant of a product (a 16-core pack for three years, a 2-core pack forever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sku {
    /// Catalog id, unique within its product, e.g. `16-core-p3y`.
    pub id: SkuId,
    /// Display name of the SKU.
    pub name: String,
    /// The terms it is sold for, each with its billing plans and prices (rule M3).
    pub terms: BTreeMap<TermKey, TermOffer>,
    /// What "Generate keys and downloads" offers (RULES.md K2); empty lists are hidden selectors.
    pub downloads: Downloads,
}

impl Sku {
    /// The offer for `term`; `None` when the SKU is not sold for that term.
    pub fn offer(&self, term: Term) -> Option<&TermOffer> {
        self.terms.get(&TermKey(term))
    }

    /// The terms the SKU is sold for, shortest first: what a refusal lists.
    pub fn available_terms(&self) -> Vec<Term> {
        self.terms.keys().map(|k| k.0).collect()
    }
}

/// A [`Term`] usable as an ordered map key (P1Y, P3Y, perpetual), so catalogs serialise and
/// compare deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TermKey(pub Term);

impl TermKey {
    fn rank(&self) -> u8 {
        match self.0 {
            Term::P1Y => 0,
            Term::P3Y => 1,
            Term::Perpetual => 2,
        }
    }
}

impl PartialOrd for TermKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TermKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// What a SKU costs for one term and how that term may be billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermOffer {
    /// The term.
    pub term: Term,
    /// The billing plans offered for this term, in catalog order, never empty (rule M3).
    pub billing_plans: Vec<BillingPlan>,
    /// Price of one unit for the whole term (or once, for perpetual), one per catalog currency,
    /// in integer minor units. AUD and BRL prices include tax for customers in AU and BR
    /// (RULES.md M2); the tax flag travels with each purchase.
    pub prices: BTreeMap<Currency, i64>,
}

impl TermOffer {
    /// The unit price in `currency`; `None` if the catalog does not price this offer in it.
    pub fn price(&self, currency: Currency) -> Option<Money> {
        self.prices
            .get(&currency)
            .map(|minor| Money::new(*minor, currency))
    }

    /// Whether `plan` is offered for this term.
    pub fn offers(&self, plan: BillingPlan) -> bool {
        self.billing_plans.contains(&plan)
    }
}

/// The choices "Generate keys and downloads" offers (RULES.md K2). A product that offers none of a
/// kind hides that selector; a license-only product offers none at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Downloads {
    /// e.g. `Windows Server 2022`.
    pub versions: Vec<String>,
    /// e.g. `English`, `Portuguese (Brazil)`.
    pub languages: Vec<String>,
    /// File type and OS, e.g. `ISO (x64)`.
    pub file_types: Vec<String>,
}

impl Downloads {
    /// Whether there is nothing to download or key (keys-and-downloads is hidden).
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.languages.is_empty() && self.file_types.is_empty()
    }
}

/// One version of the selling policy. Purchases record the version they were sold under
/// (`PolicyRef`), so a new version changes new purchases only (the source text's windows have
/// changed over the years: 60 days once, 7 days now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Version number, strictly increasing with `effective_from`.
    pub version: u32,
    /// From when it applies to new purchases (inclusive), UTC.
    pub effective_from: Timestamp,
    /// Subscriptions bought at or after this instant are listed by Get Subscriptions and
    /// auto-renew by default; earlier ones are hidden there and never renew (rules O4, O6).
    pub cutover: Timestamp,
    /// Hours after a term start (or a perpetual purchase) during which a cancel is accepted,
    /// per product kind (rules O8, O10). The window is exclusive at its end.
    pub cancellation_window_hours: BTreeMap<KindKey, u32>,
    /// Markets whose prices include tax (RULES.md M2).
    pub tax_inclusive_markets: BTreeSet<CountryCode>,
    /// Markets where Azure Reservations are not sold, each code once with every name the source
    /// text gives it (rule M1).
    pub reservations_unavailable: BTreeMap<CountryCode, Vec<String>>,
}

impl Policy {
    /// The cancellation window of a product kind, in hours.
    pub fn window_hours(&self, kind: ProductKind) -> u32 {
        // The loader guarantees one entry per kind; 0 (no window) is the safe reading if not.
        self.cancellation_window_hours
            .get(&KindKey(kind))
            .copied()
            .unwrap_or(0)
    }

    /// Whether Azure Reservations may be sold to a customer in `country` (rule M1).
    pub fn reservations_available_in(&self, country: CountryCode) -> bool {
        !self.reservations_unavailable.contains_key(&country)
    }

    /// Whether prices for a customer in `country` include tax (RULES.md M2).
    pub fn tax_inclusive(&self, country: CountryCode) -> bool {
        self.tax_inclusive_markets.contains(&country)
    }

    /// Whether a purchase at `at` falls before the cut-over (rules O4, O6).
    pub fn before_cutover(&self, at: Timestamp) -> bool {
        at < self.cutover
    }
}

/// A [`ProductKind`] usable as an ordered map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct KindKey(pub ProductKind);

impl KindKey {
    /// Every kind, so the loader can insist each has a window.
    pub const ALL: [ProductKind; 3] = [
        ProductKind::SoftwareSubscription,
        ProductKind::PerpetualSoftware,
        ProductKind::AzureReservation,
    ];

    fn rank(&self) -> u8 {
        match self.0 {
            ProductKind::SoftwareSubscription => 0,
            ProductKind::PerpetualSoftware => 1,
            ProductKind::AzureReservation => 2,
        }
    }
}

impl PartialOrd for KindKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KindKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}
