//! # csp-testkit: a real nats-server per test
//!
//! End-to-end tests spawn real processes (STYLE.md, "Tests"): this crate gives each test its own
//! `nats-server` with JetStream, on a free loopback port, with a fresh store directory, so tests
//! run in parallel and never touch the machine's shared server on 4222.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = csp_testkit::NatsServer::start()?;
//! server.wait_for_jetstream().await?;
//! let client = async_nats::connect(server.url()).await.map_err(std::io::Error::other)?;
//! // ... exercise the system; then crash it:
//! server.kill()?;
//! server.restart()?; // same port, same store
//! # drop(client);
//! # Ok(())
//! # }
//! ```
//!
//! The binary is `$CSP_NATS_SERVER`, else `nats-server` on `PATH`, else `/usr/sbin/nats-server`.
//! If there is none, [`NatsServer::start`] fails with how to install it: a missing server is a
//! broken test machine, never a reason to skip.
//!
//! Modules: `server` (the process and its lifecycle), `tempdir` (a directory removed on drop),
//! [`e2e`] (the `csp` binary as a child process, hand-written JSON requests, tokens, status:
//! what every service's end-to-end suite drives the system with), [`identity`] (issuers bound to
//! tenants, as a deployment configures them, and their tokens), [`matrix`] (literal access
//! tables checked cell by cell and printed into `RELIABILITY.md`).

#![warn(missing_docs)]

pub mod e2e;
pub mod identity;
pub mod matrix;
mod server;
mod tempdir;

pub use server::{free_port, NatsCluster, NatsServer, NatsServerBuilder, NATS_SERVER_ENV};
pub use tempdir::{copy_dir, TempDir};

/// Runs an end-to-end test body under a hard limit, so a hang fails the test with its name and
/// the limit instead of stalling CI until its own timeout (which prints nothing useful).
///
/// Waits inside a test still wait on progress; this is only the backstop for a wait that never
/// ends (a lost reply, a task that never stops).
pub async fn within<F: std::future::Future>(limit: std::time::Duration, body: F) -> F::Output {
    match tokio::time::timeout(limit, body).await {
        Ok(out) => out,
        Err(_) => panic!("the test did not finish within {limit:?}: something waits forever"),
    }
}
