//! Access matrices: who may call which endpoint for which customer, written as a literal table
//! from RULES.md, checked cell by cell against a running service, and printed into
//! `RELIABILITY.md` by the run that checked it — so the document cannot claim what the code
//! does not do.
//!
//! A table is text, one row per endpoint and customer column, one outcome per actor:
//!
//! ```text
//! endpoint     customer  p1_admin  p1_sales  c1_admin
//! place_order  C1        ok        F         F
//! place_order  C2        N         N         N
//! ```
//!
//! `ok` allowed (the call succeeds), `E` allowed and already done (`already_exists`), `F`
//! `forbidden`, `N` `not_found`, `U` `unauthenticated`. Every `F` and `N` must be recorded as
//! exactly one `access_refused` event; `ok`, `E` and `U` record none (an unauthenticated request names no actor to record). Each service's test
//! supplies how to run one cell; the table, the comparison and the document are here, so
//! entitlement, billing and audit extend the same document the same way.

use std::fmt::Write as _;

use csp_events::TenantId;
use std::future::Future;
use std::path::Path;
use uuid::Uuid;

/// The tenants every service's access matrix is written for, the same in each so the tables in
/// RELIABILITY.md read alike: partners P1 and P2; customer C1 served by P1 only, C2 by P2 only,
/// C3 by both (`Issuers::matrix_actors` mints the actors of the columns).
pub const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0001));
/// Partner P2.
pub const P2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00aa_0002));
/// Customer C1, served by P1.
pub const C1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0001));
/// Customer C2, served by P2.
pub const C2: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0002));
/// Customer C3, served by both.
pub const C3: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00cc_0003));

/// What one cell expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call passes every access check and succeeds.
    Ok,
    /// The call passes every access check and finds it already done (`already_exists`: the
    /// actor's own partner already serves that tenant). Allowed, and no oracle: another
    /// partner adding the same tenant gets `ok`.
    AlreadyExists,
    /// `forbidden`: the actor may know the customer exists, but not do this.
    Forbidden,
    /// `not_found`: the actor may not know the customer or item exists.
    NotFound,
    /// `unauthenticated`: the credential itself is refused.
    Unauthenticated,
}

impl Outcome {
    fn parse(symbol: &str) -> Option<Outcome> {
        Some(match symbol {
            "ok" => Outcome::Ok,
            "E" => Outcome::AlreadyExists,
            "F" => Outcome::Forbidden,
            "N" => Outcome::NotFound,
            "U" => Outcome::Unauthenticated,
            _ => return None,
        })
    }

    /// The table's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::AlreadyExists => "E",
            Outcome::Forbidden => "F",
            Outcome::NotFound => "N",
            Outcome::Unauthenticated => "U",
        }
    }

    /// The reply's code: `ok`, or the error code.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::AlreadyExists => "already_exists",
            Outcome::Forbidden => "forbidden",
            Outcome::NotFound => "not_found",
            Outcome::Unauthenticated => "unauthenticated",
        }
    }

    /// How many `access_refused` events the cell records.
    pub fn refusals(self) -> u64 {
        match self {
            Outcome::Forbidden | Outcome::NotFound => 1,
            Outcome::Ok | Outcome::AlreadyExists | Outcome::Unauthenticated => 0,
        }
    }
}

/// One cell to run: an endpoint, for the customer a column names, as an actor.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// The endpoint, as the table names it.
    pub endpoint: &'a str,
    /// The customer column, as the table names it.
    pub column: &'a str,
    /// The actor's index in the table's header.
    pub actor: usize,
    /// The actor's name in the header.
    pub actor_name: &'a str,
    /// What the table expects (a runner needs it only to pick a fresh item for a cell that
    /// changes state).
    pub expected: Outcome,
}

/// What one cell did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The reply's code: `ok` or the error code.
    pub code: String,
    /// `access_refused` events recorded by this call.
    pub refusals: u64,
}

struct Row {
    endpoint: String,
    column: String,
    cells: Vec<Outcome>,
}

/// A literal access table (see the module documentation).
pub struct Matrix {
    service: String,
    actors: Vec<String>,
    rows: Vec<Row>,
}

impl Matrix {
    /// Parses `table` for `service`. Panics on a malformed table: it is the test's own
    /// literal, and a typo must not shrink what is checked.
    pub fn parse(service: &str, table: &str) -> Matrix {
        let mut lines = table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let header: Vec<&str> = lines
            .next()
            .expect("a table starts with its header")
            .split_whitespace()
            .collect();
        assert!(
            header.len() > 2 && header[0] == "endpoint" && header[1] == "customer",
            "the header is `endpoint customer <actor>...`: {header:?}"
        );
        let actors: Vec<String> = header[2..].iter().map(|s| s.to_string()).collect();
        let mut rows = Vec::new();
        for line in lines {
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                parts.len(),
                actors.len() + 2,
                "row `{line}` has {} outcomes for {} actors",
                parts.len().saturating_sub(2),
                actors.len()
            );
            let cells = parts[2..]
                .iter()
                .map(|s| Outcome::parse(s).unwrap_or_else(|| panic!("`{s}` in row `{line}`")))
                .collect();
            rows.push(Row {
                endpoint: parts[0].to_string(),
                column: parts[1].to_string(),
                cells,
            });
        }
        Matrix {
            service: service.to_string(),
            actors,
            rows,
        }
    }

    /// The endpoints the table covers, each once, in table order.
    pub fn endpoints(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.endpoint.as_str()) {
                out.push(&r.endpoint);
            }
        }
        out
    }

    /// The actors, in header order.
    pub fn actors(&self) -> &[String] {
        &self.actors
    }

    /// How many cells the table has.
    pub fn len(&self) -> usize {
        self.rows.len() * self.actors.len()
    }

    /// Whether the table has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every cell through `run`, in table order (row by row, actor by actor), and panics
    /// listing every cell whose code or refusal count differs from the table.
    pub async fn check<'m, F, Fut>(&'m self, mut run: F)
    where
        F: FnMut(Cell<'m>) -> Fut,
        Fut: Future<Output = Observed>,
    {
        let mut wrong = Vec::new();
        for row in &self.rows {
            for (actor, expected) in row.cells.iter().enumerate() {
                let cell = Cell {
                    endpoint: &row.endpoint,
                    column: &row.column,
                    actor,
                    actor_name: &self.actors[actor],
                    expected: *expected,
                };
                let seen = run(cell).await;
                if seen.code != expected.code() || seen.refusals != expected.refusals() {
                    wrong.push(format!(
                        "{} {} as {}: expected {} ({} refusal recorded), got {} ({} recorded)",
                        row.endpoint,
                        row.column,
                        self.actors[actor],
                        expected.code(),
                        expected.refusals(),
                        seen.code,
                        seen.refusals
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} cells of the {} access matrix differ:\n{}",
            wrong.len(),
            self.len(),
            self.service,
            wrong.join("\n")
        );
    }

    /// The table as Markdown, with `notes` (what the columns and actors mean) above it.
    pub fn markdown(&self, notes: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", notes.trim());
        let _ = writeln!(out, "| endpoint | customer | {} |", self.actors.join(" | "));
        let _ = writeln!(out, "|---|---|{}", "---|".repeat(self.actors.len()));
        for r in &self.rows {
            let cells: Vec<&str> = r.cells.iter().map(|c| c.symbol()).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                r.endpoint,
                r.column,
                cells.join(" | ")
            );
        }
        out
    }

    /// Writes [`Matrix::markdown`] into `doc` between this service's markers
    /// (`<!-- access-matrix:<service> -->` … `<!-- /access-matrix:<service> -->`), appending
    /// the section if the document has none; the file is rewritten only if it changes.
    pub fn write_into(&self, doc: &Path, notes: &str) -> std::io::Result<()> {
        write_section(doc, &self.service, &self.markdown(notes))
    }
}

/// Writes `body` into `doc` between the markers `<!-- access-matrix:<name> -->` and
/// `<!-- /access-matrix:<name> -->`, appending the section if the document has none; the file
/// is rewritten only if it changes. For any table a test checks and prints (the NATS
/// permission matrix too).
pub fn write_section(doc: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let begin = format!("<!-- access-matrix:{name} -->");
    let end = format!("<!-- /access-matrix:{name} -->");
    let section = format!("{begin}\n{body}{end}");
    let text = std::fs::read_to_string(doc)?;
    let updated = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &text[..b], &text[e + end.len()..])
        }
        _ => format!("{}\n{section}\n", text.trim_end()),
    };
    if updated != text {
        let tmp = doc.with_extension("md.tmp");
        std::fs::write(&tmp, &updated)?;
        std::fs::rename(&tmp, doc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "
        endpoint  customer  a  b
        # a comment
        read      C1        ok F
        read      C2        N  U
    ";

    #[test]
    fn a_table_parses_renders_and_replaces_its_own_section_only() {
        let m = Matrix::parse("svc", TABLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m.endpoints(), vec!["read"]);
        let md = m.markdown("Notes.");
        assert!(md.contains("| `read` | C1 | ok | F |"), "{md}");
        assert!(md.contains("| `read` | C2 | N | U |"), "{md}");

        let dir = crate::TempDir::new("matrix").unwrap();
        let doc = dir.path().join("R.md");
        std::fs::write(
            &doc,
            "# R\n\n<!-- access-matrix:other -->\nkept\n<!-- /access-matrix:other -->\n",
        )
        .unwrap();
        m.write_into(&doc, "Notes.").unwrap();
        m.write_into(&doc, "Notes.").unwrap();
        let text = std::fs::read_to_string(&doc).unwrap();
        assert_eq!(
            text.matches("<!-- access-matrix:svc -->").count(),
            1,
            "{text}"
        );
        assert!(text.contains("kept"), "{text}");
        let smaller = Matrix::parse("svc", "endpoint customer a\nread C1 ok\n");
        smaller.write_into(&doc, "Other notes.").unwrap();
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(
            text.contains("Other notes.") && !text.contains("| N |"),
            "{text}"
        );
        assert!(text.contains("kept"), "{text}");
    }

    #[test]
    #[should_panic(expected = "has 1 outcomes for 2 actors")]
    fn a_short_row_is_refused() {
        Matrix::parse("svc", "endpoint customer a b\nread C1 ok\n");
    }

    #[tokio::test]
    async fn every_differing_cell_is_reported() {
        let m = Matrix::parse("svc", TABLE);
        let result = tokio::spawn(async move {
            m.check(|cell| {
                let code = if cell.column == "C2" && cell.actor == 1 {
                    "ok".to_string()
                } else {
                    cell.expected.code().to_string()
                };
                let refusals = cell.expected.refusals();
                async move { Observed { code, refusals } }
            })
            .await
        })
        .await;
        let panic = result.expect_err("a differing cell fails the check");
        let message = panic
            .into_panic()
            .downcast::<String>()
            .map(|s| *s)
            .unwrap_or_default();
        assert!(message.contains("1 of 4 cells"), "{message}");
        assert!(
            message.contains("read C2 as b: expected unauthenticated"),
            "{message}"
        );
    }
}
