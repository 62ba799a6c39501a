//! The `csp` verbs as a user runs them: the demo end to end (embedded, nothing installed), and
//! `csp send` / `csp replay` against a served ordering — exit 0 on success, non-zero with a
//! one-line reason otherwise.

use std::process::{Command, Output};
use std::time::Duration;

use csp_testkit::e2e::{Csp, CUSTOMER, PARTNER};
use csp_testkit::{NatsServer, TempDir};
use serde_json::Value;

fn csp(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_csp"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning csp");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().expect("csp output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The README's run command: the story runs embedded and every step it narrates happened — rules
/// O8 (a window open and closed), O9 (RedHat), O10 (perpetual, day 10), O6 (2021 backfill), O1
/// (a sales agent refused) and the renewal a year on. Its digest is then recomputed by `csp
/// replay` from the logs it kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_the_whole_story_and_replay_agrees_with_it() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = csp_testkit::e2e::serial().await;
        let data = TempDir::new("csp-e2e-demo").unwrap();
        let dir = data.path().display().to_string();
        let out = csp(&["demo", "--data", &dir], None);
        let story = text(&out.stdout);
        assert!(out.status.success(), "{story}\n{}", text(&out.stderr));
        for step in [
            "customer fabrikam",
            "Australia, billed in AUD",
            "a sales agent tries to buy: forbidden",
            // K2, K3, K5, K7: keys imported sealed, generated, viewed by the customer's global
            // admin, refused to a sales agent, a download link.
            "the platform imports 3 SQL Server 2022, 2 Windows Server 2022 and 1 ESU keys",
            "the customer's global admin views the SQL Server key",
            "a sales agent asks for the key: forbidden",
            "signed download link",
            // K6: the ESU's installation instructions.
            "ESU keys generated, with the installation instructions: https://",
            // K7, K8: a copied link works until the cancellation; then the key is refused, the
            // link dead to an HTTP client, and the item listed revoked without a key.
            "it downloads (200)",
            "Windows Server subscription",
            "entitlement_revoked",
            "its download link: 410 link_revoked",
            "the Software page",
            "x2 revoked  no key",
            "cancellation_window_closed",
            "not_cancellable",
            // B7: a refund request filed by the partner, approved in part by platform support.
            "files refund request",
            "platform support approves 750.00 USD",
            "perpetual SQL Server of order",
            "bought 2021-10-13",
            "renewed at its term end: term 2",
            "2026-03 closed: billing issued the partner's invoices",
            // B1 charges, B4 the Windows refund (4 started days of 365), B5 the perpetual
            // credit netting its charge, M2 Australian prices with tax.
            "charge  fabrikam",
            "-2116.55 USD",
            "-750.00 USD",
            "total  9555.45 USD",
            "-13038.00 AUD",
            "total  3321.00 AUD",
            // A1: every published event once in the audit log, signed, verified from disk.
            "audit holds all",
            "the audit log verifies offline",
            "view key   REFUSED  sam@contoso-partners (sales_agent)",
            "copy link           alex@contoso-partners (admin_agent) Windows Server",
            "4 records",
        ] {
            assert!(story.contains(step), "the story lacks {step:?}:\n{story}");
        }
        let digest = story
            .lines()
            .find_map(|l| l.split("state digest ").nth(1))
            .expect("the demo prints the digest")
            .trim()
            .to_string();
        let out = csp(&["replay", "ordering", "--json", "--data", &dir], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(replayed["state"]["digest"].as_str(), Some(digest.as_str()));
        let replayed_ordering = replayed;
        let out = csp(&["replay", "billing", "--json", "--data", &dir], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(replayed["state"]["closed_through"], "2027-02", "{replayed}");
        // The state as of a moment: before the Windows subscription was cancelled (day 3).
        let out = csp(
            &[
                "replay",
                "ordering",
                "--json",
                "--data",
                &dir,
                "--until",
                "2026-03-05T00:00:00Z",
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let then: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(then["state"]["subscriptions"]["cancelled"], 0, "{then}");
        assert_eq!(replayed_ordering["state"]["subscriptions"]["cancelled"], 1);
        assert!(then["events"].as_u64() < replayed_ordering["events"].as_u64());
        // Logs for a collector: one JSON object per line.
        let out = Command::new(env!("CARGO_BIN_EXE_csp"))
            .args(["replay", "audit", "--data", &dir, "--log-format", "json"])
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let lines: Vec<Value> = text(&out.stderr)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l["fields"]["message"] == "event log opened"),
            "{lines:?}"
        );
        for service in ["entitlement", "audit"] {
            let out = csp(&["replay", service, "--json", "--data", &dir], None);
            assert!(out.status.success(), "{service}: {}", text(&out.stderr));
        }
        // What a role may read, read by the operator from the stopped system's data (B10, A3):
        // the same invoice and activity log the story printed, computed by the same queries.
        let partner = story
            .lines()
            .find_map(|l| l.split("  partner ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the story names the partner")
            .to_string();
        let out = csp(
            &[
                "invoice",
                "--offline",
                "--data",
                &dir,
                "--partner",
                &partner,
                "--month",
                "2026-03",
                "--currency",
                "USD",
            ],
            None,
        );
        let invoice = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            invoice.contains("total  9555.45 USD") && invoice.contains("(issued)"),
            "{invoice}"
        );
        let out = csp(
            &[
                "audit",
                "activity",
                "--offline",
                "--data",
                &dir,
                "--partner",
                &partner,
                "--from",
                "2026-03-01T00:00:00Z",
                "--to",
                "2027-04-01T00:00:00Z",
                "--csv",
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).lines().count(),
            5,
            "a header and four records: {}",
            text(&out.stdout)
        );
        // The operator's check of the stopped system: the audit log against every producer's.
        let out = csp(&["audit", "verify", "--data", &dir], None);
        let report = text(&out.stdout);
        assert!(out.status.success(), "{report}{}", text(&out.stderr));
        assert!(report.contains("the audit log holds"), "{report}");
        // Verifying never makes a key: a missing one is said, not replaced.
        let missing = format!("{dir}.nowhere/audit.key");
        let out = csp(
            &["audit", "verify", "--data", &dir, "--audit-key", &missing],
            None,
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("no checkpoint key at"),
            "{}",
            text(&out.stderr)
        );
        assert!(!std::path::Path::new(&missing).exists());
        let secrets = format!("{dir}.secrets");
        let _ = std::fs::remove_dir_all(secrets);
    })
    .await
}

/// `csp send` prints the reply and exits 0 on `ok`, non-zero with `code: message` on stderr
/// otherwise; `csp replay` on a log the running service holds fails with one clear line; an
/// unknown verb target is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_replay_exit_codes_say_what_happened() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = csp_testkit::e2e::serial().await;
        let server = NatsServer::start().expect("nats-server");
        let url = server.url();
        let data = TempDir::new("csp-e2e-send").unwrap();
        let dir = data.path().display().to_string();
        let mut service = Csp::serve(&url, "ordering", data.path(), &[]).await;
        let base = ["--nats", url.as_str(), "--data", dir.as_str()];

        let add = format!(
            r#"{{"request_id":"add-1","tenant_id":"{CUSTOMER}","domain":"send.example","company_name":"Send Ltd","country":"BR","currency":"BRL"}}"#
        );
        let mut args = vec!["send", "ordering", "add_customer", "--json", "-", "--tenant", PARTNER];
        args.extend(base);
        let out = csp(&args, Some(&add));
        assert!(out.status.success(), "{}", text(&out.stderr));
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reply["result"]["domain"], "send.example");

        // Refused: the reply is printed, the exit is non-zero, the reason is one line.
        let bad = r#"{"request_id":"po-1","customer":"send.example","lines":[{"product":"no-such-product","sku":"x","quantity":1,"term":"P1Y","billing_plan":"annual"}]}"#;
        let mut args = vec!["send", "ordering", "place_order", "--json", "-", "--tenant", PARTNER];
        args.extend(base);
        let out = csp(&args, Some(bad));
        assert!(!out.status.success());
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reply["error"]["code"], "unknown_product");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("csp: unknown_product:"), "{stderr}");

        // A query, and the runtime's own status.
        let mut args = vec!["send", "ordering", "get_customers", "--tenant", PARTNER, "--role", "sales_agent"];
        args.extend(base);
        let out = csp(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut args = vec!["send", "ordering", "status"];
        args.extend(base);
        let out = csp(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(status["result"]["state"]["customers"], 1);

        // Mistakes are refused before anything is sent.
        let mut args = vec!["send", "ordering", "no_such_command", "--tenant", PARTNER];
        args.extend(base);
        let out = csp(&args, None);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("place_order"), "{}", text(&out.stderr));

        // The log is the running service's: replay says so and stops.
        let out = csp(&["replay", "ordering", "--data", &dir], None);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("locked"), "{}", text(&out.stderr));
        assert_eq!(service.terminate().code(), Some(0));
        let out = csp(&["replay", "ordering", "--data", &dir], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("customers          1"));
    })
    .await
}

/// `csp up --nats`: every service in one process, reachable over NATS, serving the layout
/// `<data>/<service>/log`, and stopped cleanly by SIGTERM (exit 0); `csp replay` then reads the
/// same directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_every_service_over_nats_and_stops_cleanly() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = csp_testkit::e2e::serial().await;
        let server = NatsServer::start().expect("nats-server");
        let url = server.url();
        let root = TempDir::new("csp-e2e-up").unwrap();
        // The master key goes beside the data (`<data>.secrets`): both inside the test's dir.
        let data = root.path().join("data");
        let dir = data.display().to_string();
        let mut up = Command::new(env!("CARGO_BIN_EXE_csp"))
            .args(["up", "--nats", url.as_str(), "--data", dir.as_str()])
            .args(["--download-addr", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("csp up");
        let client = async_nats::connect(&url).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while client
            .request("$SRV.PING.ordering", bytes::Bytes::new())
            .await
            .is_err()
        {
            assert!(std::time::Instant::now() < deadline, "csp up never answered PING");
            assert!(up.try_wait().unwrap().is_none(), "csp up exited early");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let add = format!(
            r#"{{"request_id":"add-up","tenant_id":"{CUSTOMER}","domain":"up.example","company_name":"Up Ltd","country":"DE","currency":"EUR"}}"#
        );
        let mut args = vec!["send", "ordering", "add_customer", "--json", "-", "--tenant", PARTNER];
        args.extend(["--nats", url.as_str(), "--data", dir.as_str()]);
        let out = csp(&args, Some(&add));
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Entitlement and billing, consumers of ordering in the same process, learn of the
        // customer.
        let operator = csp_testkit::e2e::admin_token(&csp_testkit::e2e::dev_issuer(&data));
        for consumer in ["entitlement", "billing"] {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while csp_testkit::e2e::status(&client, consumer, &operator, false).await["state"]
                ["customers"]
                != 1
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{consumer} never consumed the customer"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

        // K9 from the command line: a device list imported, the plan read (deadline 180 days
        // after the last KMS activation; due_soon within 30 days, overdue past it), a MAK
        // deployed on the overdue device completing it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let days_ago = |d: i64| csp_events::Timestamp::from_micros(now - d * 86_400_000_000);
        let devices = root.path().join("devices.csv");
        std::fs::write(
            &devices,
            format!(
                "device,last_kms_activation\nsrv-new,{}\nsrv-soon,{}\nsrv-late,{}\n",
                days_ago(10),
                days_ago(170),
                days_ago(200)
            ),
        )
        .unwrap();
        let whose = [
            "--partner", PARTNER, "--customer", CUSTOMER, "--nats", url.as_str(), "--data", dir.as_str(),
        ];
        let file = devices.display().to_string();
        let mut args = vec!["migrate", "import", "--file", file.as_str()];
        args.extend(whose);
        let out = csp(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("3 devices imported"), "{}", text(&out.stdout));
        let mut args = vec!["migrate", "deployed", "--device", "srv-late"];
        args.extend(whose);
        let out = csp(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "srv-late: completed");
        let mut args = vec!["migrate", "plan"];
        args.extend(whose);
        let out = csp(&args, None);
        let plan = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let state = |device: &str| {
            plan.lines()
                .find(|l| l.starts_with(device))
                .unwrap_or_else(|| panic!("{device} not in the plan:\n{plan}"))
                .to_string()
        };
        assert!(state("srv-new").ends_with(" ok"), "{plan}");
        assert!(state("srv-soon").contains(" due_soon"), "{plan}");
        assert!(state("srv-late").contains(" completed (MAK deployed"), "{plan}");
        let mut args = vec!["migrate", "plan", "--customer", "nobody.example", "--partner", PARTNER];
        args.extend(["--nats", url.as_str(), "--data", dir.as_str()]);
        let out = csp(&args, None);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("get_migration_plan: not_found"), "{}", text(&out.stderr));

        unsafe {
            libc::kill(up.id() as i32, libc::SIGTERM);
        }
        assert_eq!(up.wait().unwrap().code(), Some(0));
        assert!(data.join("ordering").join("log").is_dir());
        assert!(root.path().join("data.secrets").join("master.key").is_file());
        for service in ["ordering", "entitlement", "billing"] {
            let out = csp(&["replay", service, "--json", "--data", &dir], None);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(replayed["state"]["customers"], 1, "{service}: {replayed}");
        }
    })
    .await
}

/// An answer larger than the bus carries is refused with `payload_too_large` and its size, at
/// once — not dropped, which would leave the client waiting out its timeout with nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_too_large_for_the_bus_is_an_error_not_a_timeout() {
    csp_testkit::within(Duration::from_secs(300), async {
        let _guard = csp_testkit::e2e::serial().await;
        let server = NatsServer::builder()
            .max_payload(16 * 1024)
            .start()
            .expect("nats-server");
        let url = server.url();
        let data = TempDir::new("csp-e2e-big-answer").unwrap();
        let _service = Csp::serve(&url, "ordering", data.path(), &["--max-body", "8192"]).await;
        let client = async_nats::connect(&url).await.unwrap();
        let issuer = csp_testkit::e2e::dev_issuer(data.path());
        let partner = csp_events::TenantId(PARTNER.parse().unwrap());
        let agent = csp_testkit::e2e::partner_token(&issuer, partner, csp_events::Role::AdminAgent);
        // 100 customers: get_customers answers ~25 KB.
        for i in 0..100u128 {
            let tenant = uuid::Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_0000_0000 | i);
            let body = format!(
                r#"{{"request_id":"add-{i}","tenant_id":"{tenant}","domain":"big-{i}.example","company_name":"Big Answer Number {i} Ltd","country":"US","currency":"USD"}}"#
            );
            let r = csp_testkit::e2e::send(&client, "csp.cmd.ordering.add_customer", Some(&agent), body.as_bytes()).await;
            assert_eq!(csp_testkit::e2e::code(&r), "ok", "{r}");
        }
        let started = std::time::Instant::now();
        let r = csp_testkit::e2e::send(&client, "csp.qry.ordering.get_customers", Some(&agent), b"{}").await;
        assert_eq!(csp_testkit::e2e::code(&r), "payload_too_large", "{r}");
        assert!(r["error"]["details"]["size"].as_u64().unwrap() > 16 * 1024, "{r}");
        assert!(started.elapsed() < Duration::from_secs(5), "answered at once");
        // In pages of 30 it fits: four pages, chained by their cursors, hold all 100.
        let (mut seen, mut after) = (Vec::new(), None::<String>);
        loop {
            let body = match &after {
                None => r#"{"limit":30}"#.to_string(),
                Some(a) => format!(r#"{{"limit":30,"after":"{a}"}}"#),
            };
            let r = csp_testkit::e2e::send(&client, "csp.qry.ordering.get_customers", Some(&agent), body.as_bytes()).await;
            assert_eq!(csp_testkit::e2e::code(&r), "ok", "{r}");
            seen.extend(r["result"]["customers"].as_array().unwrap().iter().map(|c| c["tenant_id"].clone()));
            match r["result"]["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        let distinct: std::collections::BTreeSet<String> = seen.iter().map(|v| v.to_string()).collect();
        assert_eq!((seen.len(), distinct.len()), (100, 100));
    })
    .await
}

/// `csp catalog show` prints what the services sell (the sample compiled in, or a directory),
/// and refuses a directory that is not a catalog with one line, exit non-zero.
#[test]
fn catalog_show_prints_what_is_sold_and_refuses_a_bad_catalog() {
    let out = csp(&["catalog", "show", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let products = shown["products"].as_array().unwrap();
    let rhel = products
        .iter()
        .find(|p| p["product"] == "rhel-software-plan")
        .expect("the Red Hat plan");
    assert_eq!(
        (
            rhel["cancellable"].as_bool(),
            rhel["license_only"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(
        shown["policies"][0]["tax_inclusive_markets"],
        serde_json::json!(["AU", "BR"])
    );
    let text_out = csp(&["catalog", "show"], None);
    assert!(text(&text_out.stdout).contains("Windows Server 2022 Standard"));
    let empty = TempDir::new("csp-e2e-bad-catalog").unwrap();
    let out = csp(
        &[
            "catalog",
            "show",
            "--catalog",
            &empty.path().display().to_string(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).starts_with("csp:"),
        "{}",
        text(&out.stderr)
    );
}
