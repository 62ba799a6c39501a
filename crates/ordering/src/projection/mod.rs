//! Ordering's read models, each a fold of recorded events and nothing else: delete them, replay
//! the log, and they come back byte for byte (their [`crate::State::digest`] says so).
//!
//! - [`customers`]: the customer list, by tenant id and by domain name, per partner (rule O2);
//! - [`orders`]: every order, whatever its date (Get Orders, rule O5);
//! - [`subscriptions`]: status, term start and end, auto-renew, billing plan and
//!   `cancellable_until` (Get Subscriptions lists those bought on or after the cut-over, O4);
//! - [`purchases`]: every purchase whatever its date, cancelled ones included: the list behind the
//!   Software page (rules O4, O10; the page itself, with keys, is entitlement's).
//!
//! Projections never decide and never read the clock: a term end shows once its transition is
//! recorded (the scheduler records it at the term end; queries that must be exact at `now`
//! overlay due transitions, as [`crate::domain::cancellation`] does).

pub mod customers;
pub mod orders;
pub mod purchases;
pub mod subscriptions;

use csp_events::Envelope;
use serde::Serialize;

/// Every read model, folded together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Projections {
    /// Customers by tenant id and domain.
    pub customers: customers::Customers,
    /// Orders.
    pub orders: orders::Orders,
    /// Subscriptions.
    pub subscriptions: subscriptions::Subscriptions,
    /// Purchases (the Software page's list).
    pub purchases: purchases::Purchases,
}

impl Projections {
    /// Folds one recorded event into every read model.
    pub fn apply(&mut self, env: &Envelope) {
        self.customers.apply(env);
        self.orders.apply(env);
        self.subscriptions.apply(env);
        self.purchases.apply(env);
    }
}
