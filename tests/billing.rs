//! Billing over a real nats-server, ordering and billing as separate `csp serve` processes on
//! manual clocks, with issuers bound to tenants:
//!
//! December: purchases and cancellations placed through ordering land on the right invoices
//! with the right amounts (B1, B2, B4, B5, B8, M2), read with `csp invoice` as a billing system
//! would. Then billing is stopped across the end of January while ordering goes on into
//! February; restarted, it files every charge and refund in its own month — January's invoice
//! holds January's lines, none a correction — and closes January only once ordering's
//! heartbeats say it has read past its end. Its live digest equals `csp replay billing`'s.

use std::process::Command;
use std::time::{Duration, Instant};

use csp_events::{Role, TenantId};
use csp_testkit::e2e::{code, ok, request as send, Csp};
use csp_testkit::identity::Issuers;
use csp_testkit::{NatsServer, TempDir};
use serde_json::{json, Value};
use uuid::Uuid;

const P1: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00ba_0001));
const US: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00bc_0001));
const AU: TenantId = TenantId(Uuid::from_u128(0x0190_d7a1_0000_7000_8000_0000_00bc_0002));
const START: &str = "2026-12-01T09:00:00Z";

fn line(product: &str, sku: &str, quantity: u32, term: &str, plan: &str) -> Value {
    json!({"product": product, "sku": sku, "quantity": quantity, "term": term, "billing_plan": plan})
}

/// The minor units of a money value in a reply.
fn minor(v: &Value) -> i64 {
    v["amount_minor"]
        .as_i64()
        .unwrap_or_else(|| panic!("not money: {v}"))
}

/// Polls `f` until it returns something, for at most 30 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The partner's invoice for `month` in `currency`, if it has that status.
async fn invoice(
    client: &async_nats::Client,
    reader: &str,
    month: &str,
    currency: &str,
    issued: bool,
) -> Option<Value> {
    let (name, body) = if issued {
        ("get_invoice", json!({"month": month, "currency": currency}))
    } else {
        (
            "preview_invoice",
            json!({"month": month, "currency": currency}),
        )
    };
    let r = send(client, &format!("csp.qry.billing.{name}"), reader, &body).await;
    (code(&r) == "ok").then(|| r["result"].clone())
}

/// The amounts of an invoice's lines, in line order, by kind.
fn amounts(inv: &Value) -> Vec<(String, i64)> {
    inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap().to_string(), minor(&l["amount"])))
        .collect()
}

fn kinds(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, a)| (k.to_string(), *a)).collect()
}

async fn set_clock(client: &async_nats::Client, service: &str, operator: &str, to: &str) {
    ok(
        client,
        &format!("csp.admin.{service}.clock"),
        operator,
        json!({"set": to}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_land_on_the_right_invoices_and_a_stopped_billing_files_each_charge_in_its_own_month(
) {
    let _serial = csp_testkit::e2e::serial().await;
    csp_testkit::within(Duration::from_secs(300), async {
        let nats = NatsServer::start().unwrap();
        nats.wait_for_jetstream().await.unwrap();
        let url = nats.url();
        let root = TempDir::new("csp-e2e-billing").unwrap();
        let issuers = Issuers::new().partner(P1).customer(US).customer(AU);
        let mut flags = issuers.serve_flags(root.path());
        flags.extend(["--manual-clock", START, "--billing-grace-secs", "60"].map(String::from));
        let common: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut ordering = Csp::serve(&url, "ordering", &root.path().join("ordering"), &common).await;
        let billing_dir = root.path().join("billing");
        let mut billing = Csp::serve(&url, "billing", &billing_dir, &common).await;
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let agent = issuers.partner_user(P1, Role::AdminAgent);
        let reader = issuers.partner_user(P1, Role::BillingAdmin);
        let operator = issuers.platform_user(Role::Operator);
        let cmd = |name: &str| format!("csp.cmd.ordering.{name}");

        // December 1, 09:00.
        // The Australian customer's name would run as a formula in a spreadsheet.
        for (id, domain, name, country, currency) in [
            (US, "us.example", "US Ltd", "US", "USD"),
            (AU, "au.example.au", "=HYPERLINK(\"http://x\")", "AU", "AUD"),
        ] {
            ok(&client, &cmd("add_customer"), &agent, json!({"request_id": format!("add-{domain}"),
                "tenant_id": id, "domain": domain, "company_name": name, "country": country,
                "currency": currency})).await;
        }
        let a = ok(&client, &cmd("place_order"), &agent, json!({"request_id": "order-a", "customer": US,
            "lines": [
                line("windows-server-2022-rds-user-cal", "user-cal-p1y", 3, "P1Y", "monthly"),
                line("windows-server-2022-standard", "16-core-p1y", 2, "P1Y", "annual"),
            ]})).await;
        let windows = a["lines"][1]["subscription_id"].clone();
        let b = ok(&client, &cmd("place_order"), &agent, json!({"request_id": "order-b", "customer": US,
            "lines": [line("windows-server-2022-rds-user-cal", "user-cal-p1y", 1, "P1Y", "monthly")]})).await;
        let cal = b["lines"][0]["subscription_id"].clone();
        let p = ok(&client, &cmd("place_order"), &agent, json!({"request_id": "order-p", "customer": AU,
            "lines": [line("sql-server-2022-standard-perpetual", "2-core", 1, "perpetual", "one_time")]})).await;

        // Hour 50: Windows cancelled, 3 started days of 365 used.
        for service in ["ordering", "billing"] {
            set_clock(&client, service, &operator, "2026-12-03T11:00:00Z").await;
        }
        ok(&client, &cmd("cancel_subscription"), &agent, json!({"request_id": "cancel-windows",
            "customer": US, "subscription_id": windows})).await;
        // Hour 100: the single RDS CAL cancelled, 5 started days.
        for service in ["ordering", "billing"] {
            set_clock(&client, service, &operator, "2026-12-05T13:00:00Z").await;
        }
        ok(&client, &cmd("cancel_subscription"), &agent, json!({"request_id": "cancel-cal",
            "customer": US, "subscription_id": cal})).await;
        // Day 29: the perpetual purchase cancelled, inside its 30 days.
        for service in ["ordering", "billing"] {
            set_clock(&client, service, &operator, "2026-12-30T09:00:00Z").await;
        }
        ok(&client, &cmd("cancel_perpetual"), &agent, json!({"request_id": "cancel-perpetual",
            "customer": AU, "order_ids": [p["order_id"]]})).await;

        // January 1, 10:00: December closes (its end, the grace, ordering heard past both).
        for service in ["ordering", "billing"] {
            set_clock(&client, service, &operator, "2027-01-01T10:00:00Z").await;
        }
        let usd = eventually("December's USD invoice", || invoice(&client, &reader, "2026-12", "USD", true)).await;
        // B1: 3 CALs at 130.00 a year, monthly: 32.50; Windows 2 x 1,070.00 annual; one CAL
        // monthly: 10.84 (13,000 minor units / 12 leaves 4, carried by the first four).
        // B4: Windows 2,140.00 - round(2,140.00 x 3/365 = 17.589) = 2,122.41; the CAL
        // 10.84 - round(130.00 x 5/365 = 1.7808) = 9.06.
        assert_eq!(
            amounts(&usd),
            kinds(&[("charge", 3250), ("charge", 214000), ("charge", 1084), ("refund", -212241), ("refund", -906)]),
            "{usd}"
        );
        // B8: 2,183.34 - 2,131.47 = 51.87.
        assert_eq!(minor(&usd["invoice"]["total"]), 5187, "{usd}");
        assert_eq!(usd["invoice"]["number"], "CSP-202612-0001");
        // B5, M2: the perpetual purchase (6,519.00 AUD, tax included) and its 100% credit net to
        // zero on one invoice.
        let aud = eventually("December's AUD invoice", || invoice(&client, &reader, "2026-12", "AUD", true)).await;
        assert_eq!(amounts(&aud), kinds(&[("charge", 651900), ("credit", -651900)]), "{aud}");
        assert_eq!(minor(&aud["invoice"]["total"]), 0);
        assert!(aud["lines"].as_array().unwrap().iter().all(|l| l["tax_inclusive"] == true), "{aud}");

        // The billing system's view: `csp invoice`, the table and the CSV.
        let partner = P1.0.to_string();
        let csp = env!("CARGO_BIN_EXE_csp");
        let invoice_cli = |extra: &[&str]| {
            let out = Command::new(csp)
                .args(["invoice", "--nats", url.as_str(), "--token", reader.as_str()])
                .args(["--partner", partner.as_str(), "--month", "2026-12"])
                .args(extra)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let table = invoice_cli(&["--currency", "USD"]);
        assert!(table.contains("CSP-202612-0001") && table.contains("(issued)"), "{table}");
        assert!(table.contains("total  51.87 USD") && table.contains("-2122.41 USD"), "{table}");
        // The export: exactly the 46 columns, in Partner Center's order; a CSV reader parses
        // it; its Total column sums, per currency, to that invoice's total; a cell a
        // spreadsheet would run as a formula is neutralised.
        const COLUMNS: &str = "PartnerId, CustomerId, CustomerName, CustomerDomainName, \
            CustomerCountry, InvoiceNumber, MpnId, ResellerMpnId, OrderId, OrderDate, ProductId, \
            SkuId, AvailabilityId, SkuName, ProductName, ChargeType, UnitPrice, Quantity, \
            Subtotal, TaxTotal, Total, Currency, PriceAdjustmentDescription, PublisherName, \
            PublisherId, SubscriptionDescription, SubscriptionId, ChargeStartDate, ChargeEndDate, \
            TermAndBillingCycle, EffectiveUnitPrice, UnitType, AlternateId, BillableQuantity, \
            BillingFrequency, PricingCurrency, PCToBCExchangeRate, PCToBCExchangeRateDate, \
            MeterDescription, ReservationOrderId, CreditReasonCode, SubscriptionStartDate, \
            SubscriptionEndDate, ReferenceId, ProductQualifiers, PromotionId";
        let columns: Vec<&str> = COLUMNS.split(", ").collect();
        assert_eq!(columns.len(), 46);
        for (currency, invoice) in [("USD", &usd), ("AUD", &aud)] {
            let csv = invoice_cli(&["--currency", currency, "--csv"]);
            let mut rows = csv::Reader::from_reader(csv.as_bytes());
            let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
            assert_eq!(header, columns, "{currency}");
            let (total, name) = (
                header.iter().position(|h| h == "Total").unwrap(),
                header.iter().position(|h| h == "CustomerName").unwrap(),
            );
            let mut minor_units = 0i64;
            for row in rows.records() {
                let row = row.unwrap();
                assert_eq!(row.len(), 46);
                minor_units += row[total].replace('.', "").parse::<i64>().unwrap();
                if currency == "AUD" {
                    assert_eq!(&row[name], "'=HYPERLINK(\"http://x\")", "neutralised");
                }
            }
            assert_eq!(minor_units, minor(&invoice["invoice"]["total"]), "{currency}: {csv}");
        }

        // Billing stops on January 1; ordering goes on.
        assert!(billing.terminate().success());
        set_clock(&client, "ordering", &operator, "2027-01-20T09:00:00Z").await;
        let c = ok(&client, &cmd("place_order"), &agent, json!({"request_id": "order-c", "customer": US,
            "lines": [line("windows-server-2022-rds-user-cal", "user-cal-p1y", 3, "P1Y", "monthly")]})).await;
        set_clock(&client, "ordering", &operator, "2027-01-22T09:00:00Z").await;
        ok(&client, &cmd("cancel_subscription"), &agent, json!({"request_id": "cancel-c",
            "customer": US, "subscription_id": c["lines"][0]["subscription_id"]})).await;
        set_clock(&client, "ordering", &operator, "2027-02-10T09:00:00Z").await;
        ok(&client, &cmd("place_order"), &agent, json!({"request_id": "order-d", "customer": US,
            "lines": [line("windows-server-2022-standard", "16-core-p1y", 1, "P1Y", "annual")]})).await;

        // Restarted on February 10: January's invoice holds January's lines — order A's second
        // installment (due January 1, while billing was down), order C's first charge and its
        // refund (3 started days of the term's 390.00: 390.00 x 3/365 = 3.2055 rounds to 3.21,
        // so 32.50 - 3.21 = 29.29) — each in its own month, none a correction.
        billing.restart(&url, "billing", Some("2027-02-10T09:00:00Z")).await;
        let jan = eventually("January's invoice", || invoice(&client, &reader, "2027-01", "USD", true)).await;
        assert_eq!(
            amounts(&jan),
            kinds(&[("charge", 3250), ("charge", 3250), ("refund", -2929)]),
            "{jan}"
        );
        assert_eq!(minor(&jan["invoice"]["total"]), 3571);
        let feb = eventually("February's preview", || async {
            let f = invoice(&client, &reader, "2027-02", "USD", false).await?;
            (f["lines"].as_array()?.len() == 2).then_some(f)
        })
        .await;
        assert_eq!(amounts(&feb), kinds(&[("charge", 3250), ("charge", 107000)]), "{feb}");
        for inv in [&usd, &jan, &feb] {
            let month = &inv["invoice"]["month"];
            for l in inv["lines"].as_array().unwrap() {
                assert_eq!(&l["belongs_to"], month, "filed in its own month, not as a correction: {l}");
            }
        }

        // B9: the live state is what the log alone rebuilds.
        let live = csp_testkit::e2e::status(&client, "billing", &operator, true).await;
        let digest = live["state"]["digest"].as_str().unwrap().to_string();
        assert!(billing.terminate().success());
        let out = Command::new(csp)
            .args(["replay", "billing", "--json", "--data", billing_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(replayed["state"]["digest"].as_str(), Some(digest.as_str()));
        assert_eq!(replayed["state"]["closed_through"], "2027-01");
        ordering.terminate();
    })
    .await
}
