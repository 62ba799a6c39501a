//! # csp-counter: the runtime's test service
//!
//! A counter a partner opens for a customer it serves, counting up to a limit, expiring at the
//! end of its lifetime. It exists to prove the runtime (auth, tenant checks and
//! `AccessRefused`, idempotency, bad input, the scheduler, shutdown) before the real services,
//! and it has the shape every service copies:
//!
//! - `domain/`: the pure decider (`decide`, `evolve`, `next_due`) and nothing else;
//! - `api.rs`: each command and query as one pure function, and the state they read (the fold);
//! - `service.rs`: the endpoint table binding them, the only file that knows the runtime;
//! - `observer.rs`: a consumer of the counter's events, reacting to each (exactly-once tests);
//! - `watcher.rs`: a consumer with due transitions of its own (`domain/watch.rs`), proving that
//!   a batch's reactions see each other and that what falls due is recorded first.

pub mod api;
pub mod domain;
pub mod observer;
pub mod service;
pub mod watcher;

pub use observer::{CounterObserver, Kept, Published, Reactions};
pub use service::CounterService;
pub use watcher::CounterWatcher;
