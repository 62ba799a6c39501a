//! Every `csp bench` runs to its end at a small size: a benchmark is a user-facing verb, and one
//! that broke unnoticed (billing's did, after the inbox stopped carrying its own stream version
//! in an upstream copy's bytes) costs the next person who needs its figure a session. The figures
//! themselves are not checked here: they are measured on release builds and recorded in
//! `BENCHMARKS.md`, never asserted by a test.

use std::process::Command;
use std::time::Duration;

/// Runs `csp bench <args>` and returns its standard output, failing with both streams if it
/// did not exit 0.
fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_csp"))
        .arg("bench")
        .args(args)
        .output()
        .expect("spawning csp");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "csp bench {args:?} failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn run(args: &'static [&'static str], expect: &'static [&'static str]) {
    csp_testkit::within(Duration::from_secs(600), async move {
        let _guard = csp_testkit::e2e::serial().await;
        let out = tokio::task::spawn_blocking(move || bench(args))
            .await
            .expect("the bench task");
        for figure in expect {
            assert!(out.contains(figure), "no {figure:?} in\n{out}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_eventlog_runs() {
    run(
        &[
            "eventlog",
            "--events",
            "5000",
            "--batch",
            "100",
            "--per-task",
            "5",
            "--single-flush-events",
            "50",
            "--streams",
            "100",
        ],
        &["ceiling"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_bus_runs() {
    run(&["bus", "--events", "500"], &["ceiling"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ordering_runs() {
    run(
        &[
            "ordering",
            "--orders",
            "200",
            "--clients",
            "4",
            "--connections",
            "2",
        ],
        &["place_order over NATS", "ceiling"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_entitlement_runs() {
    run(
        &[
            "entitlement",
            "--views",
            "200",
            "--clients",
            "4",
            "--connections",
            "2",
        ],
        &["get_key over NATS", "ceiling"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_billing_runs() {
    run(
        &[
            "billing",
            "--events",
            "20000",
            "--batch",
            "64",
            "--csv-lines",
            "100",
        ],
        &["digest = live", "reconciliation file"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_audit_runs() {
    run(
        &["audit", "--events", "500", "--proof-leaves", "1000"],
        &["ceiling"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_consistency_runs() {
    run(&["consistency", "--cancellations", "5"], &["p99"]).await;
}
