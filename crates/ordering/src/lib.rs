//! # csp-ordering: where purchases enter csp
//!
//! The ordering service owns customers, orders, subscriptions and their terms, auto-renew,
//! cancellations and refund requests. This crate is the whole service — pure core, thin shell —
//! in the shape every service copies:
//!
//! - [`domain`]: pure deciders (`decide`, `evolve`, `next_due`) for the customer list, orders
//!   (and review), subscriptions, perpetual purchases and refund requests — rules M1, M3 and
//!   O1–O12 of `RULES.md`. No `async`, no I/O, no clock, no randomness;
//! - [`projection`]: read models folded from events only (customers, orders, subscriptions,
//!   purchases);
//! - [`state`]: [`State`], everything the service holds — every aggregate and every read model —
//!   with `apply` (the one fold, live and in replay) and `due` (what the scheduler records); it
//!   serialises deterministically, so the runtime's digest of it is the same live and in replay;
//! - [`api`]: the contract's JSON commands mapped to domain commands (customers resolved by
//!   tenant id or domain) and decisions turned into the kernel's `Decided` (events and reply);
//! - [`queries`]: the contract's JSON queries answered from [`State`], with who may read what;
//! - [`service`]: the endpoint table of [`service::OrderingService`] on the csp runtime, each
//!   command and query bound to its function; the catalog is the service's configuration,
//!   handed to every handler beside the state, never folded.
//!
//! **Invariant:** nothing outside `service.rs` reads a clock, a file, a socket or a random
//! source; ids come from `ctx.new_id`, transitions from `EventId::scheduled`. `service.rs`
//! itself only binds pure functions to endpoints: the runtime does the I/O.
//!
//! The choices made where the rules are silent are listed in [`docs`].

#![warn(missing_docs)]

pub mod api;
pub mod domain;
pub mod projection;
pub mod queries;
pub mod service;
pub mod state;

pub use state::State;

/// # Choices made where the rules are silent
///
/// RULES.md asks that every such choice be made, written down and tested. Here they are; the
/// policy values themselves (windows, cut-over, markets, tax) are catalog data in
/// `deploy/catalog/policy.toml`.
///
/// ## Products and policy
/// - **Azure Reservations have a cancellation window.** The source text gives none; csp gives
///   them the software-subscription window (168 hours from the start of any term), as policy
///   data (`cancellation_window_hours.azure_reservation`), so an operator can change it.
///   Reservations are otherwise term-based purchases like software subscriptions: they renew,
///   switch auto-renew, and follow the cut-over rules O4 and O6 in the same way (the source sells
///   "Azure Reservations and Server Subscriptions" together; one rule set keeps them alike).
/// - **RedHat and SUSE plans** (rule O9) are products with `cancellable = false`: their purchases
///   record no window (`PolicyRef.cancellation_window_hours = None`, `cancellable_until =
///   None`), and a cancel is `not_cancellable` whenever it comes. Auto-renew can still be turned
///   off, so they end at the term end; that is what the refusal suggests.
/// - **Policy version in force.** A purchase is sold under the latest policy version whose
///   `effective_from` is at or before its purchase time — for a backfill, its historical date.
///   Renewals keep the purchase's version (window length) and price: a catalog change applies
///   to new purchases only. An order dated before the first version is refused
///   (`invalid_order`, `purchased_at`).
/// - **One price per term**, whatever the billing plan: the plan splits the term's price into
///   charges (billing's RULES.md B1), it does not change it.
/// - **Currencies.** The catalog lists the currencies every price is given in; a customer must be
///   billed in one of them (`add_customer` refuses another with `invalid_request`, `currency`).
///
/// ## Customers and access
/// - A customer tenant may be served by **several partners** (RULES.md O2): each relationship
///   has its own domain name, company name, country and currency. A partner adding a tenant it
///   already serves, or a domain already in its own list, is `already_exists`; adding a tenant
///   another partner serves is a new relationship (never `already_exists`, which would tell it
///   the tenant is someone else's customer). A domain names a customer within the asking
///   partner's own list only.
/// - **Who does what** (beyond RULES.md): adding a customer and filing a refund request take the
///   O1 buyers (partner `admin_agent` or `global_admin`); reviewing an order also admits the
///   partner `sales_agent` (a review records nothing); asking about a window (O11) takes the O1
///   buyers. Backfill is the platform `importer`'s only; deciding refunds the platform
///   `support`'s only. Reading a customer's orders, subscriptions and purchases takes any role
///   of a partner that serves it, the customer's own `global_admin`, or the platform's
///   `importer` and `support`. `RELIABILITY.md` prints the whole matrix, checked by a test.
/// - **Order of checks** (the tenancy module's, the same in every service): first whether the
///   actor may know the customer exists (a partner that serves it, the customer's own user, the
///   platform) — `not_found` otherwise, exactly as for no such customer, recorded — then its
///   role (`forbidden`, recorded), then the item: a partner sees only what it sold, so another
///   partner's order or subscription is `not_found` as a missing one is, recorded. Platform
///   roles (`importer`, `support`) are checked before anything is looked up.
///
/// ## Orders
/// - "Orders dated before today enter only by backfill": a backfilled order must be dated
///   strictly before 00:00 UTC of the current day; an order dated today is placed with
///   `place_order`. Backfilled subscriptions whose terms have already ended are renewed or
///   expired in the same command, each transition with its true `effective_at`.
/// - An order has at most 100 lines; `import_orders` and `cancel_perpetual` take at most 1000
///   items. Batches judge each item on its own; see [`crate::api`] for the reply shape.
/// - **Review** prices every line it can and reports, per line, the terms and plans the SKU
///   offers and what would refuse it; it refuses only the order as a whole (no lines, unknown
///   customer, not yours). A line with an unavailable plan is still priced (the price is per
///   term).
/// - Checks of a line run in a fixed order and the first failure answers: quantity, product,
///   SKU, market (M1), term, billing plan (M3), price.
///
/// ## Subscriptions
/// - A term is whole calendar months from its start, at the same time of day; a start on a day
///   the end month lacks ends on that month's last day. Each renewal counts from the previous
///   end.
/// - Setting auto-renew to the value it already has records nothing and succeeds. Turning it
///   off for a pre-cut-over subscription (already off) is such a no-op; turning it on is
///   `autorenew_unavailable`.
/// - A cancelled or expired subscription answers `invalid_state` to every command.
///
/// ## Perpetual purchases
/// - `cancel_perpetual` cancels every perpetual purchase of each named order (all of an order's
///   perpetual lines were bought together and share one window).
///
/// ## Refund requests
/// - "Missing" includes blank: an empty or whitespace-only reason, contact name, e-mail or
///   phone, or attachment name, is `invalid_request` naming the field. The e-mail must look like
///   one. The amount requested must be above zero and in the customer's currency; an approved
///   amount must be above zero and at most the amount requested (to approve nothing, decline).
/// - A request must name an order or subscription of the named customer (`not_found`
///   otherwise); blank optional fields are stored as absent.
pub mod docs {}
