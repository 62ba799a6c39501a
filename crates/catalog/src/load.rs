//! Reading the catalog from hand-edited TOML files, and refusing any file that is wrong.
//!
//! Layout of a catalog directory (the shipped sample is `deploy/catalog/`):
//!
//! - `policy.toml`: `currencies` (what every price is given in) and one or more `[[policy]]`
//!   versions: `version`, `effective_from`, `cutover`, `tax_inclusive_markets`,
//!   `cancellation_window_hours` per product kind, and `reservations_unavailable` (code + names);
//! - `products/*.toml`: `[[product]]` entries, each with `[[product.sku]]` and, per SKU,
//!   `[[product.sku.term]]` offers (term, billing plans, prices in minor units) and optional
//!   `[product.sku.downloads]`.
//!
//! Files are read in name order, so the same directory always yields the same catalog. Each
//! file is parsed as a TOML table first (a syntax error names the line and column), then each
//! entry is decoded on its own with the JSON-path-like field names of `serde_path_to_error`, then
//! checked for what types cannot say (duplicates, a plan that cannot bill its term, a missing
//! price). The first problem refuses the whole catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use csp_events::market::{CountryCode, ProductId, SkuId};
use csp_events::money::Currency;
use csp_events::ordering::{BillingPlan, ProductKind, Term};
use csp_events::Timestamp;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{CatalogError, Problem};
use crate::model::{Catalog, Downloads, KindKey, Policy, Product, Sku, TermKey, TermOffer};

/// One catalog file's name and text: what [`Catalog::from_files`] reads, so tests and tools can
/// check a catalog without a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFile {
    /// Its path, for error messages.
    pub path: PathBuf,
    /// Its TOML text.
    pub text: String,
}

impl CatalogFile {
    /// A file named `path` holding `text`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> CatalogFile {
        CatalogFile {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// The policy file's name inside a catalog directory.
pub const POLICY_FILE: &str = "policy.toml";
/// The products directory's name inside a catalog directory.
pub const PRODUCTS_DIR: &str = "products";

impl Catalog {
    /// Loads `dir/policy.toml` and every `dir/products/*.toml`, in name order.
    pub fn load(dir: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let dir = dir.as_ref();
        let policy_path = dir.join(POLICY_FILE);
        let policy = read(&policy_path)?;
        let products_dir = dir.join(PRODUCTS_DIR);
        let listing = std::fs::read_dir(&products_dir).map_err(|source| CatalogError::Read {
            file: products_dir.clone(),
            source,
        })?;
        let mut paths = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|source| CatalogError::Read {
                file: products_dir.clone(),
                source,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let products = paths
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        if products.is_empty() {
            return Err(CatalogError::MissingFile {
                file: products_dir,
                what: "at least one *.toml file of [[product]] entries".into(),
            });
        }
        Catalog::from_files(&policy, &products)
    }

    /// Builds a catalog from a policy file and product files already in memory.
    pub fn from_files(
        policy: &CatalogFile,
        products: &[CatalogFile],
    ) -> Result<Catalog, CatalogError> {
        let (currencies, policies, kms_client_keys) = load_policy_file(policy)?;
        let mut all: BTreeMap<ProductId, Product> = BTreeMap::new();
        let mut first_seen: BTreeMap<ProductId, PathBuf> = BTreeMap::new();
        for file in products {
            for (entry, product) in load_product_file(file, &currencies)? {
                if let Some(first) = first_seen.get(&product.id) {
                    return Err(invalid(
                        &file.path,
                        &entry,
                        "id",
                        Problem::Duplicate(
                            product.id.to_string(),
                            format!(", first defined in {}", first.display()),
                        ),
                    ));
                }
                first_seen.insert(product.id.clone(), file.path.clone());
                all.insert(product.id.clone(), product);
            }
        }
        Ok(Catalog {
            currencies,
            products: all,
            policies,
            kms_client_keys,
        })
    }
}

fn read(path: &Path) -> Result<CatalogFile, CatalogError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(CatalogFile::new(path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CatalogError::MissingFile {
            file: path.to_path_buf(),
            what: "the catalog's policy (currencies and [[policy]] versions)".into(),
        }),
        Err(source) => Err(CatalogError::Read {
            file: path.to_path_buf(),
            source,
        }),
    }
}

fn invalid(file: &Path, entry: &str, field: &str, problem: Problem) -> CatalogError {
    CatalogError::Invalid {
        file: file.to_path_buf(),
        entry: entry.to_string(),
        field: field.to_string(),
        problem: Box::new(problem),
    }
}

/// Parses the file as a TOML table; a syntax error names line and column.
fn parse(file: &CatalogFile) -> Result<toml::Table, CatalogError> {
    file.text.parse::<toml::Table>().map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = position(&file.text, offset);
        CatalogError::Syntax {
            file: file.path.clone(),
            line,
            column,
            message: e.message().to_string(),
        }
    })
}

/// 1-based line and column of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Decodes one entry, naming the failing field by its path inside the entry.
fn decode<T: DeserializeOwned>(
    file: &Path,
    entry: &str,
    value: toml::Value,
) -> Result<T, CatalogError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().message().to_string();
        invalid(
            file,
            entry,
            &field_of(&path, &message),
            Problem::Decode(message),
        )
    })
}

/// serde reports a missing field at its parent's path; the operator wants the field itself.
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        _ => path.to_string(),
    }
}

/// A top-level key of a file that is not one it may hold.
fn check_top_level(
    file: &CatalogFile,
    table: &toml::Table,
    allowed: &[&str],
) -> Result<(), CatalogError> {
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            &file.path,
            "(top level)",
            key,
            Problem::Decode(format!(
                "unknown key `{key}`, expected one of {}",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )),
        None => Ok(()),
    }
}

/// The entries of an array of tables (`[[product]]`), each with the name errors use for it.
fn entries(
    file: &CatalogFile,
    table: &mut toml::Table,
    key: &str,
    id_key: &str,
) -> Result<Vec<(String, toml::Value)>, CatalogError> {
    let Some(value) = table.remove(key) else {
        return Err(invalid(
            &file.path,
            "(top level)",
            key,
            Problem::Decode(format!("missing `[[{key}]]` entries")),
        ));
    };
    let toml::Value::Array(items) = value else {
        return Err(invalid(
            &file.path,
            "(top level)",
            key,
            Problem::Decode(format!(
                "`{key}` must be an array of tables: write `[[{key}]]`"
            )),
        ));
    };
    if items.is_empty() {
        return Err(invalid(&file.path, "(top level)", key, Problem::Empty));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let name = match v.get(id_key) {
                Some(toml::Value::String(s)) => format!("{key} {s:?}"),
                Some(toml::Value::Integer(n)) => format!("{key} {id_key} {n}"),
                _ => format!("{key}[{i}]"),
            };
            (name, v)
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// policy.toml
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    effective_from: Timestamp,
    cutover: Timestamp,
    tax_inclusive_markets: Vec<CountryCode>,
    cancellation_window_hours: RawWindows,
    reservations_unavailable: Vec<RawMarket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindows {
    software_subscription: u32,
    perpetual_software: u32,
    azure_reservation: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    code: CountryCode,
    names: Vec<String>,
}

/// One generic KMS client key Microsoft publishes (a GVLK), for the product it activates.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKmsKey {
    product: String,
    key: String,
}

/// The policy file's parts.
type PolicyParts = (BTreeSet<Currency>, Vec<Policy>, BTreeSet<String>);

/// The generic KMS client keys: 25 characters (dashes and case ignored), kept normalised so an
/// import can refuse any of them (RULES.md K4).
fn load_kms_keys(
    file: &CatalogFile,
    table: &mut toml::Table,
) -> Result<BTreeSet<String>, CatalogError> {
    let Some(v) = table.remove("kms_client_keys") else {
        return Ok(BTreeSet::new());
    };
    let raw: Vec<RawKmsKey> = decode(&file.path, "(top level)", v)?;
    let mut keys = BTreeSet::new();
    for (i, k) in raw.iter().enumerate() {
        let normal = crate::model::normalise_key(&k.key).ok_or_else(|| {
            invalid(
                &file.path,
                "(top level)",
                &format!("kms_client_keys[{i}].key"),
                Problem::Decode(format!(
                    "the {} key is not five groups of five characters",
                    k.product
                )),
            )
        })?;
        keys.insert(normal);
    }
    Ok(keys)
}

fn load_policy_file(file: &CatalogFile) -> Result<PolicyParts, CatalogError> {
    let mut table = parse(file)?;
    check_top_level(file, &table, &["currencies", "policy", "kms_client_keys"])?;
    let kms = load_kms_keys(file, &mut table)?;
    let currencies = match table.remove("currencies") {
        Some(v) => decode::<Vec<String>>(&file.path, "(top level)", v).map_err(|e| match e {
            CatalogError::Invalid {
                file,
                entry,
                field,
                problem,
            } => CatalogError::Invalid {
                file,
                entry,
                field: format!("currencies{}", field.trim_start_matches('.')),
                problem,
            },
            other => other,
        })?,
        None => {
            return Err(invalid(
                &file.path,
                "(top level)",
                "currencies",
                Problem::Decode("missing field `currencies`".into()),
            ))
        }
    };
    if currencies.is_empty() {
        return Err(invalid(
            &file.path,
            "(top level)",
            "currencies",
            Problem::Empty,
        ));
    }
    let mut set = BTreeSet::new();
    for (i, code) in currencies.iter().enumerate() {
        let field = format!("currencies[{i}]");
        let c: Currency = code.parse().map_err(|_| {
            invalid(
                &file.path,
                "(top level)",
                &field,
                Problem::UnknownCurrency(code.clone()),
            )
        })?;
        if !set.insert(c) {
            return Err(invalid(
                &file.path,
                "(top level)",
                &field,
                Problem::Duplicate(code.clone(), String::new()),
            ));
        }
    }
    let mut policies: Vec<Policy> = Vec::new();
    for (entry, value) in entries(file, &mut table, "policy", "version")? {
        let raw: RawPolicy = decode(&file.path, &entry, value)?;
        let policy = check_policy(&file.path, &entry, raw)?;
        if let Some(prev) = policies.last() {
            if policy.version <= prev.version {
                return Err(invalid(
                    &file.path,
                    &entry,
                    "version",
                    Problem::OutOfOrder(format!(
                        "version {} follows version {}: versions must rise, oldest first",
                        policy.version, prev.version
                    )),
                ));
            }
            if policy.effective_from <= prev.effective_from {
                return Err(invalid(
                    &file.path,
                    &entry,
                    "effective_from",
                    Problem::OutOfOrder(format!(
                        "{} is not after version {}'s {}: a newer version must take effect later",
                        policy.effective_from, prev.version, prev.effective_from
                    )),
                ));
            }
        }
        policies.push(policy);
    }
    Ok((set, policies, kms))
}

fn check_policy(file: &Path, entry: &str, raw: RawPolicy) -> Result<Policy, CatalogError> {
    let w = &raw.cancellation_window_hours;
    let mut windows = BTreeMap::new();
    for (name, kind, hours) in [
        (
            "software_subscription",
            ProductKind::SoftwareSubscription,
            w.software_subscription,
        ),
        (
            "perpetual_software",
            ProductKind::PerpetualSoftware,
            w.perpetual_software,
        ),
        (
            "azure_reservation",
            ProductKind::AzureReservation,
            w.azure_reservation,
        ),
    ] {
        if hours == 0 {
            return Err(invalid(
                file,
                entry,
                &format!("cancellation_window_hours.{name}"),
                Problem::NotPositive(0),
            ));
        }
        windows.insert(KindKey(kind), hours);
    }
    let mut tax = BTreeSet::new();
    for (i, c) in raw.tax_inclusive_markets.iter().enumerate() {
        if !tax.insert(*c) {
            return Err(invalid(
                file,
                entry,
                &format!("tax_inclusive_markets[{i}]"),
                Problem::Duplicate(c.to_string(), String::new()),
            ));
        }
    }
    let mut markets: BTreeMap<CountryCode, Vec<String>> = BTreeMap::new();
    let mut names_seen = BTreeSet::new();
    for (i, m) in raw.reservations_unavailable.into_iter().enumerate() {
        if markets.contains_key(&m.code) {
            return Err(invalid(
                file,
                entry,
                &format!("reservations_unavailable[{i}].code"),
                Problem::Duplicate(
                    m.code.to_string(),
                    ": list a code once, with all its names".into(),
                ),
            ));
        }
        if m.names.is_empty() {
            return Err(invalid(
                file,
                entry,
                &format!("reservations_unavailable[{i}].names"),
                Problem::Empty,
            ));
        }
        for (j, n) in m.names.iter().enumerate() {
            let field = format!("reservations_unavailable[{i}].names[{j}]");
            if n.trim().is_empty() {
                return Err(invalid(file, entry, &field, Problem::Empty));
            }
            if !names_seen.insert(n.clone()) {
                return Err(invalid(
                    file,
                    entry,
                    &field,
                    Problem::Duplicate(n.clone(), String::new()),
                ));
            }
        }
        markets.insert(m.code, m.names);
    }
    Ok(Policy {
        version: raw.version,
        effective_from: raw.effective_from,
        cutover: raw.cutover,
        cancellation_window_hours: windows,
        tax_inclusive_markets: tax,
        reservations_unavailable: markets,
    })
}

// ---------------------------------------------------------------------------------------------
// products/*.toml
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    id: ProductId,
    name: String,
    kind: ProductKind,
    cancellable: bool,
    license_only: bool,
    #[serde(default)]
    installation_instructions: Option<String>,
    sku: Vec<RawSku>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSku {
    id: SkuId,
    name: String,
    #[serde(default)]
    downloads: Option<RawDownloads>,
    term: Vec<RawTerm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDownloads {
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    file_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerm {
    term: Term,
    billing_plans: Vec<BillingPlan>,
    prices: BTreeMap<String, i64>,
}

fn load_product_file(
    file: &CatalogFile,
    currencies: &BTreeSet<Currency>,
) -> Result<Vec<(String, Product)>, CatalogError> {
    let mut table = parse(file)?;
    check_top_level(file, &table, &["product"])?;
    let mut out: Vec<(String, Product)> = Vec::new();
    for (entry, value) in entries(file, &mut table, "product", "id")? {
        let raw: RawProduct = decode(&file.path, &entry, value)?;
        if let Some((_, first)) = out.iter().find(|(_, p)| p.id == raw.id) {
            return Err(invalid(
                &file.path,
                &entry,
                "id",
                Problem::Duplicate(first.id.to_string(), " in this file".into()),
            ));
        }
        let product = check_product(&file.path, &entry, raw, currencies)?;
        out.push((entry, product));
    }
    Ok(out)
}

fn check_text(file: &Path, entry: &str, field: &str, s: &str) -> Result<(), CatalogError> {
    if s.trim().is_empty() {
        Err(invalid(file, entry, field, Problem::Empty))
    } else {
        Ok(())
    }
}

fn check_product(
    file: &Path,
    entry: &str,
    raw: RawProduct,
    currencies: &BTreeSet<Currency>,
) -> Result<Product, CatalogError> {
    check_text(file, entry, "name", &raw.name)?;
    if let Some(link) = &raw.installation_instructions {
        if !link.starts_with("https://")
            || link.len() <= "https://".len()
            || link.contains(char::is_whitespace)
        {
            return Err(invalid(
                file,
                entry,
                "installation_instructions",
                Problem::NotHttps(link.clone()),
            ));
        }
    }
    if raw.sku.is_empty() {
        return Err(invalid(file, entry, "sku", Problem::Empty));
    }
    let mut skus = BTreeMap::new();
    for (i, s) in raw.sku.into_iter().enumerate() {
        let at = format!("sku[{i}]");
        if skus.contains_key(&s.id) {
            return Err(invalid(
                file,
                entry,
                &format!("{at}.id"),
                Problem::Duplicate(s.id.to_string(), String::new()),
            ));
        }
        check_text(file, entry, &format!("{at}.name"), &s.name)?;
        let downloads = match s.downloads {
            None => Downloads::default(),
            Some(d) => {
                if raw.license_only {
                    return Err(invalid(
                        file,
                        entry,
                        &format!("{at}.downloads"),
                        Problem::DownloadsOnLicenseOnly,
                    ));
                }
                for (name, list) in [
                    ("versions", &d.versions),
                    ("languages", &d.languages),
                    ("file_types", &d.file_types),
                ] {
                    let mut seen = BTreeSet::new();
                    for (j, v) in list.iter().enumerate() {
                        let field = format!("{at}.downloads.{name}[{j}]");
                        check_text(file, entry, &field, v)?;
                        if !seen.insert(v) {
                            return Err(invalid(
                                file,
                                entry,
                                &field,
                                Problem::Duplicate(v.clone(), String::new()),
                            ));
                        }
                    }
                }
                Downloads {
                    versions: d.versions,
                    languages: d.languages,
                    file_types: d.file_types,
                }
            }
        };
        if s.term.is_empty() {
            return Err(invalid(file, entry, &format!("{at}.term"), Problem::Empty));
        }
        let mut terms = BTreeMap::new();
        for (j, t) in s.term.into_iter().enumerate() {
            let at = format!("{at}.term[{j}]");
            let offer = check_term(file, entry, &at, raw.kind, t, currencies)?;
            if terms.contains_key(&TermKey(offer.term)) {
                return Err(invalid(
                    file,
                    entry,
                    &format!("{at}.term"),
                    Problem::Duplicate(term_name(offer.term).into(), String::new()),
                ));
            }
            terms.insert(TermKey(offer.term), offer);
        }
        skus.insert(
            s.id.clone(),
            Sku {
                id: s.id,
                name: s.name,
                terms,
                downloads,
            },
        );
    }
    Ok(Product {
        id: raw.id,
        name: raw.name,
        kind: raw.kind,
        cancellable: raw.cancellable,
        license_only: raw.license_only,
        installation_instructions: raw.installation_instructions,
        skus,
    })
}

/// The wire name of a term, for messages.
pub(crate) fn term_name(t: Term) -> &'static str {
    match t {
        Term::P1Y => "P1Y",
        Term::P3Y => "P3Y",
        Term::Perpetual => "perpetual",
    }
}

/// The wire name of a billing plan, for messages.
pub(crate) fn plan_name(p: BillingPlan) -> &'static str {
    match p {
        BillingPlan::Monthly => "monthly",
        BillingPlan::Annual => "annual",
        BillingPlan::Triennial => "triennial",
        BillingPlan::OneTime => "one_time",
    }
}

fn kind_name(k: ProductKind) -> &'static str {
    match k {
        ProductKind::SoftwareSubscription => "software_subscription",
        ProductKind::PerpetualSoftware => "perpetual_software",
        ProductKind::AzureReservation => "azure_reservation",
    }
}

/// Whether `plan` can bill a `term` at all (RULES.md B1: monthly, annual and triennial charges must
/// divide the term; one_time is the perpetual purchase).
fn plan_fits(plan: BillingPlan, term: Term) -> bool {
    matches!(
        (plan, term),
        (
            BillingPlan::Monthly | BillingPlan::Annual,
            Term::P1Y | Term::P3Y
        ) | (BillingPlan::Triennial, Term::P3Y)
            | (BillingPlan::OneTime, Term::Perpetual)
    )
}

fn check_term(
    file: &Path,
    entry: &str,
    at: &str,
    kind: ProductKind,
    t: RawTerm,
    currencies: &BTreeSet<Currency>,
) -> Result<TermOffer, CatalogError> {
    let perpetual_kind = kind == ProductKind::PerpetualSoftware;
    if (t.term == Term::Perpetual) != perpetual_kind {
        return Err(invalid(
            file,
            entry,
            &format!("{at}.term"),
            Problem::TermNotForKind {
                term: term_name(t.term).into(),
                kind: kind_name(kind).into(),
            },
        ));
    }
    if t.billing_plans.is_empty() {
        return Err(invalid(
            file,
            entry,
            &format!("{at}.billing_plans"),
            Problem::Empty,
        ));
    }
    let mut seen = BTreeSet::new();
    for (k, plan) in t.billing_plans.iter().enumerate() {
        let field = format!("{at}.billing_plans[{k}]");
        if !plan_fits(*plan, t.term) {
            return Err(invalid(
                file,
                entry,
                &field,
                Problem::PlanNotForTerm {
                    plan: plan_name(*plan).into(),
                    term: term_name(t.term).into(),
                },
            ));
        }
        if !seen.insert(*plan) {
            return Err(invalid(
                file,
                entry,
                &field,
                Problem::Duplicate(plan_name(*plan).into(), String::new()),
            ));
        }
    }
    let mut prices = BTreeMap::new();
    for (code, minor) in &t.prices {
        let field = format!("{at}.prices.{code}");
        let currency: Currency = code
            .parse()
            .map_err(|_| invalid(file, entry, &field, Problem::UnknownCurrency(code.clone())))?;
        if !currencies.contains(&currency) {
            return Err(invalid(
                file,
                entry,
                &field,
                Problem::UnlistedCurrency(code.clone()),
            ));
        }
        if *minor <= 0 {
            return Err(invalid(file, entry, &field, Problem::NotPositive(*minor)));
        }
        prices.insert(currency, *minor);
    }
    if let Some(missing) = currencies.iter().find(|c| !prices.contains_key(c)) {
        return Err(invalid(
            file,
            entry,
            &format!("{at}.prices.{missing}"),
            Problem::MissingPrice(missing.to_string()),
        ));
    }
    Ok(TermOffer {
        term: t.term,
        billing_plans: t.billing_plans,
        prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position("a\nbc\nd", 0), (1, 1));
        assert_eq!(position("a\nbc\nd", 3), (2, 2));
        assert_eq!(position("a\nbc\nd", 5), (3, 1));
    }

    #[test]
    fn a_missing_field_is_named_itself() {
        assert_eq!(field_of(".", "missing field `name`"), "name");
        assert_eq!(field_of("sku[0]", "missing field `term`"), "sku[0].term");
        assert_eq!(field_of("sku[0].id", "invalid SkuId"), "sku[0].id");
    }
}
