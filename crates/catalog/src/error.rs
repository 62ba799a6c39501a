//! Why a catalog was refused. Every error names the file, and where it can the entry (a product
//! by id, a policy by version) and the field inside it, so an operator who edited a file by hand
//! goes straight to the line to fix: a catalog is all or nothing, never half loaded.

use std::path::PathBuf;

/// A catalog that cannot be used. Loading stops at the first one.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file or directory could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file or directory.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A required file is absent (`policy.toml`, or no product file at all).
    #[error("{file}: missing: {what}")]
    MissingFile {
        /// Where it was expected.
        file: PathBuf,
        /// What it should hold.
        what: String,
    },
    /// The file is not TOML at all: no entry can be named, the position can.
    #[error("{file}:{line}:{column}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// An entry of the file is wrong.
    #[error("{file}: {entry}: field `{field}`: {problem}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The entry: `product "sql-server-2022-standard"`, `policy version 2`, or by position
        /// (`product[3]`) when it has no usable id.
        entry: String,
        /// The field inside the entry, as a path: `sku[1].term[0].prices.BRL`.
        field: String,
        /// What is wrong with it (boxed: errors travel by value through every loader step).
        problem: Box<Problem>,
    },
}

impl CatalogError {
    /// The file the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            CatalogError::Read { file, .. }
            | CatalogError::MissingFile { file, .. }
            | CatalogError::Syntax { file, .. }
            | CatalogError::Invalid { file, .. } => file,
        }
    }

    /// The entry, when the error is about one.
    pub fn entry(&self) -> Option<&str> {
        match self {
            CatalogError::Invalid { entry, .. } => Some(entry),
            _ => None,
        }
    }

    /// The field, when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            CatalogError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The problem, when the error is about an entry.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            CatalogError::Invalid { problem, .. } => Some(problem.as_ref()),
            _ => None,
        }
    }
}

/// What is wrong with a field: one variant per kind of mistake, so tests (and tools) can match
/// on the kind rather than on wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The field is missing, unknown, or of the wrong type (serde's own words).
    #[error("{0}")]
    Decode(String),
    /// The same id, term, plan, code or name appears twice.
    #[error("duplicate {0:?}{1}")]
    Duplicate(String, String),
    /// A list or text that must not be empty is.
    #[error("must not be empty")]
    Empty,
    /// A billing plan that cannot bill this term (triennial on P1Y, one_time on a subscription).
    #[error("billing plan {plan} cannot bill a {term} term")]
    PlanNotForTerm {
        /// The plan, snake_case.
        plan: String,
        /// The term.
        term: String,
    },
    /// A term the product's kind is never sold for (a perpetual term on a subscription).
    #[error("a {kind} product is not sold for term {term}")]
    TermNotForKind {
        /// The term.
        term: String,
        /// The product kind, snake_case.
        kind: String,
    },
    /// A price key that is not an ISO 4217 code csp knows.
    #[error("unknown currency {0:?}: expected an ISO 4217 code such as USD")]
    UnknownCurrency(String),
    /// A price in a currency the catalog is not priced in (see `currencies` in policy.toml).
    #[error(
        "currency {0} is not in the catalog's `currencies`; add it there or remove this price"
    )]
    UnlistedCurrency(String),
    /// A catalog currency with no price here.
    #[error("no price in {0}: every offer is priced in every catalog currency")]
    MissingPrice(String),
    /// A price or window that must be above zero is not.
    #[error("{0} is not above zero")]
    NotPositive(i64),
    /// A license-only product lists downloads, which it by definition has none of (RULES.md K1).
    #[error("a license_only product has no keys and no downloads; remove `downloads` or set license_only = false")]
    DownloadsOnLicenseOnly,
    /// A link that is not an https URL.
    #[error("{0:?} is not an https:// link")]
    NotHttps(String),
    /// A date-time without a date, a time or a UTC offset.
    #[error("{0} is not a full date-time with an offset, such as 2021-10-14T00:00:00Z")]
    BadTime(String),
    /// Policy versions must rise with their `effective_from`.
    #[error("{0}")]
    OutOfOrder(String),
}
