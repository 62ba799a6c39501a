//! Billing's endpoint table and its queries, pure functions of the state. Readers per RULES.md
//! B10: the partner's `global_admin` and `billing_admin`; the partner's other users are
//! `forbidden`; anyone outside the partner (a customer included) is told `not_found`, exactly
//! as for an invoice that does not exist; each refusal recorded by the runtime.

use csp_bus::Endpoints;
use csp_events::billing::{
    ChargeEntry, ChargeList, ExportReconciliation, GetCharges, GetInvoice, InvoiceList,
    InvoicePage, InvoiceStatus, InvoiceSummary, ListInvoices, Month, PreviewInvoice,
    ReconciliationPage,
};
use csp_events::kernel::{Context, Rejection};
use csp_events::money::Currency;
use csp_events::ordering::LineItem;
use csp_events::{ActorKind, ErrorCode, ItemRef, TenantId};
use csp_tenancy::{check, forbidden, INVOICE_READERS};

use crate::config::Config;
use crate::service::BillingService;
use crate::state::{key, Invoice, State};

/// The table: queries only; billing takes no commands (it reacts to ordering's events).
pub fn endpoints() -> Endpoints<BillingService> {
    Endpoints::new()
        .query(get_invoice)
        .query(list_invoices)
        .query(preview_invoice)
        .query(get_charges)
        .query(export_reconciliation)
}

fn not_found(partner: Option<TenantId>, what: String) -> Rejection {
    let item = ItemRef::new(
        "invoice",
        partner.map_or_else(|| "-".into(), |p| p.to_string()),
    );
    Rejection::new(ErrorCode::NotFound, what).refusal(None, Some(item))
}

/// Whose invoices the actor may read: its own partner's, with a B10 role.
fn reader(ctx: &Context, partner: Option<TenantId>, action: &str) -> Result<TenantId, Rejection> {
    let actor = &ctx.actor;
    let asked = partner.unwrap_or(actor.tenant);
    if actor.kind != ActorKind::Partner || asked != actor.tenant {
        return Err(not_found(
            Some(asked),
            format!("no invoices of partner {asked} are visible to you"),
        ));
    }
    if !INVOICE_READERS.allows(actor) {
        return Err(forbidden(
            format!("only a partner global_admin or billing_admin may {action}"),
            None,
            Some(ItemRef::new("invoice", asked)),
        ));
    }
    Ok(asked)
}

/// The partner's invoice of `month`, in `currency` if given (needed only when there are
/// several).
fn find(
    state: &State,
    partner: TenantId,
    month: Month,
    currency: Option<Currency>,
) -> Result<&Invoice, Rejection> {
    let found: Vec<&Invoice> = state
        .invoices
        .values()
        .filter(|inv| inv.month == month && inv.partner == partner)
        .filter(|inv| currency.is_none_or(|c| c == inv.currency))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(Rejection::new(
            ErrorCode::NotFound,
            format!(
                "partner {partner} has no invoice for {month}{}",
                currency.map_or(String::new(), |c| format!(" in {c}"))
            ),
        )
        .with("month", month.to_string())),
        many => Err(Rejection::new(
            ErrorCode::InvalidRequest,
            format!(
                "field `currency`: {month} has invoices in {}; name one",
                many.iter()
                    .map(|i| i.currency.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with("path", "currency")),
    }
}

fn page_of(
    state: &State,
    inv: &Invoice,
    status: InvoiceStatus,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<InvoicePage, Rejection> {
    let (range, next) = csp_tenancy::page_numbered(inv.lines.len(), after, limit)?;
    let first = u32::try_from(range.start + 1).unwrap_or(u32::MAX);
    Ok(InvoicePage {
        status,
        invoice: inv.current_head(state),
        lines: state.render(inv, inv.lines.range(range), first),
        next,
    })
}

/// `get_invoice`: an issued invoice (B2, B8), its lines in pages.
pub fn get_invoice(
    state: &State,
    _config: &Config,
    q: &GetInvoice,
    ctx: &Context,
) -> Result<InvoicePage, Rejection> {
    let partner = reader(ctx, q.partner, "read invoices")?;
    let inv = find(state, partner, q.month, q.currency)?;
    if !inv.issued {
        return Err(Rejection::new(
            ErrorCode::NotFound,
            format!(
                "{} is not issued yet: {} is open; preview_invoice shows it as it stands",
                inv.number, inv.month
            ),
        )
        .with("month", inv.month.to_string()));
    }
    page_of(
        state,
        inv,
        InvoiceStatus::Issued,
        q.after.as_deref(),
        q.limit,
    )
}

/// `list_invoices`: the partner's invoices, issued and open, oldest first.
pub fn list_invoices(
    state: &State,
    _config: &Config,
    q: &ListInvoices,
    ctx: &Context,
) -> Result<InvoiceList, Rejection> {
    let partner = reader(ctx, q.partner, "list invoices")?;
    let all: Vec<InvoiceSummary> = state
        .invoices
        .values()
        .filter(|i| i.partner == partner)
        .map(|i| InvoiceSummary {
            status: i.status(),
            invoice: i.current_head(state),
        })
        .collect();
    let (invoices, next) = csp_tenancy::page(
        all.iter().collect(),
        |s| s.invoice.number.clone(),
        q.after.as_deref(),
        q.limit,
    )?;
    Ok(InvoiceList { invoices, next })
}

/// `preview_invoice`: an open month's invoice as it stands, by the code that will issue it.
pub fn preview_invoice(
    state: &State,
    _config: &Config,
    q: &PreviewInvoice,
    ctx: &Context,
) -> Result<InvoicePage, Rejection> {
    let partner = reader(ctx, q.partner, "preview invoices")?;
    let month = q
        .month
        .or_else(|| state.open_month())
        .unwrap_or_else(|| Month::of(ctx.now));
    if state.closed.is_some_and(|c| month <= c) {
        return Err(Rejection::new(
            ErrorCode::InvalidState,
            format!("{month} is closed: its invoice is issued; get_invoice shows it"),
        )
        .with("month", month.to_string()));
    }
    let inv = find(state, partner, month, q.currency)?;
    page_of(
        state,
        inv,
        InvoiceStatus::Preview,
        q.after.as_deref(),
        q.limit,
    )
}

/// `get_charges`: every line of one item or one order of a customer, and where it is.
pub fn get_charges(
    state: &State,
    _config: &Config,
    q: &GetCharges,
    ctx: &Context,
) -> Result<ChargeList, Rejection> {
    if ctx.actor.kind != ActorKind::Partner {
        return Err(not_found(
            None,
            format!("no charges of customer {} are visible to you", q.customer),
        ));
    }
    let target = state.directory.named(&ctx.actor, &q.customer);
    let scope = check(&ctx.actor, &target, &INVOICE_READERS, "read charges")?;
    let customer = scope.customer();
    // The item or order must be this customer's, sold by the caller: another partner's sale
    // is answered exactly as one that does not exist, and recorded.
    let (found, item) = match (q.item, q.order) {
        (Some(line), None) => {
            let (kind, id) = match line {
                LineItem::Subscription(s) => ("subscription", s.0),
                LineItem::Perpetual(p) => ("perpetual", p.0),
            };
            (state.items.get(&key(&line)), ItemRef::new(kind, id))
        }
        (None, Some(order)) => (
            state.items.values().find(|i| i.order == order),
            ItemRef::new("order", order),
        ),
        _ => {
            return Err(Rejection::new(
                ErrorCode::InvalidRequest,
                "name exactly one of `item` and `order`",
            )
            .with("path", "."))
        }
    };
    let missing = || {
        Rejection::new(
            ErrorCode::NotFound,
            format!(
                "customer {} has no such item or order billed by you",
                q.customer
            ),
        )
    };
    scope.find(found, |i| (i.customer, i.partner), item, missing)?;
    let entries: Vec<ChargeEntry> = state
        .invoices
        .values()
        .filter(|i| i.partner == ctx.actor.tenant)
        .flat_map(|inv| {
            inv.lines
                .iter()
                .zip(1..)
                .filter(|(l, _)| {
                    let (owner, order) = state.line_owner(l);
                    owner == Some(customer)
                        && match (q.item, q.order) {
                            (Some(item), _) => l.item == Some(item),
                            (None, wanted) => order == wanted,
                        }
                })
                .map(move |(l, number)| ChargeEntry {
                    invoice: inv.number.clone(),
                    status: inv.status(),
                    line: state.render(inv, std::slice::from_ref(l), number).remove(0),
                })
        })
        .collect();
    Ok(ChargeList { entries })
}

/// `export_reconciliation`: the invoice of a month (issued, or its preview while open) as
/// Partner Center's reconciliation file lays it out, in pages of CSV rows.
pub fn export_reconciliation(
    state: &State,
    _config: &Config,
    q: &ExportReconciliation,
    ctx: &Context,
) -> Result<ReconciliationPage, Rejection> {
    let partner = reader(ctx, q.partner, "export the reconciliation file")?;
    let inv = find(state, partner, q.month, q.currency)?;
    let (range, next) = csp_tenancy::page_numbered(inv.lines.len(), q.after.as_deref(), q.limit)?;
    let first = u32::try_from(range.start + 1).unwrap_or(u32::MAX);
    let lines = state.render(inv, inv.lines.range(range), first);
    let csv = crate::reconciliation::render(state, inv, &lines, q.after.is_none())
        .map_err(|e| Rejection::new(ErrorCode::Internal, format!("writing the CSV: {e}")))?;
    Ok(ReconciliationPage {
        status: inv.status(),
        invoice: inv.number.clone(),
        csv,
        next,
    })
}
