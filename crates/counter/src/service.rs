//! The counter service on the runtime: its endpoint table, and nothing else that a service
//! must write (the contract is `csp_events::counter`, the decider `domain/`, the handlers and
//! the fold `api.rs`). Everything else — decoding, tokens, idempotency, append, reply, the
//! scheduler, the digest — is the runtime's.

use csp_bus::{Emit, Endpoints, Origin, Service, Unchanged};
use csp_events::counter;
use csp_events::{Envelope, Timestamp};

use crate::api::{self, State};

/// The counter service. `I` names the instance: tests that need two producers of the same
/// kind run [`Primary`] (`counter`) and [`Second`] (`counter-b`).
pub struct CounterService<I: Instance = Primary>(std::marker::PhantomData<I>);

/// Which counter service: its name on the bus.
pub trait Instance: Send + Sync + 'static {
    /// The service name.
    const NAME: &'static str;
}

/// The counter, `counter`.
pub struct Primary;

impl Instance for Primary {
    const NAME: &'static str = counter::SERVICE;
}

/// A second counter, `counter-b`: a second producer for multi-producer consumer tests.
pub struct Second;

impl Instance for Second {
    const NAME: &'static str = "counter-b";
}

impl<I: Instance> Service for CounterService<I> {
    const NAME: &'static str = I::NAME;
    const DESCRIPTION: &'static str = "csp's test service: a counter with a limit and an expiry";

    type Config = ();
    type State = State;
    type Scratch<'a> = Unchanged<'a, State>;

    fn scratch(state: &State) -> Unchanged<'_, State> {
        Unchanged(state)
    }

    fn apply(state: &mut State, env: &Envelope, _origin: Origin<'_>) {
        // A counter's own events; the rest (refusals, rejected commands) are the runtime's.
        if let Some(customer) = env.customer.filter(|c| env.stream == counter::stream(*c)) {
            state.evolve(customer, &env.payload);
        }
    }

    fn endpoints() -> Endpoints<Self> {
        Endpoints::new()
            .command(api::open)
            .command(api::increment)
            .query(api::get)
    }

    fn due(state: &State, _: &(), now: Timestamp) -> Vec<Emit> {
        state.due_emits(now, crate::domain::counter::partner)
    }
}
