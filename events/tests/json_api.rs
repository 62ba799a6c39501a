//! The JSON command API: every documented example decodes, and every command and query refuses
//! an unknown field with `invalid_request` naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use csp_events::api::{decode_json, CommandBody, QueryBody};
use csp_events::ordering::*;
use csp_events::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The README's endpoint sections (`#### \`csp.cmd.<service>.<name>\``, and `qry`) by
/// `<service>.<name>`: each one's JSON blocks, in order. The first is the request, every
/// further one a reply.
fn readme() -> &'static BTreeMap<String, Vec<Value>> {
    static SECTIONS: OnceLock<BTreeMap<String, Vec<Value>>> = OnceLock::new();
    SECTIONS.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sections = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut block: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            if let Some(json) = block.as_mut() {
                if line == "```" {
                    let json = block.take().unwrap();
                    if let Some(name) = &current {
                        let value: Value = serde_json::from_str(&json).unwrap_or_else(|e| {
                            panic!("README.md, block ending on line {}: {e}", n + 1)
                        });
                        sections
                            .entry(name.clone())
                            .or_insert_with(Vec::new)
                            .push(value);
                    }
                } else {
                    json.push_str(line);
                    json.push('\n');
                }
            } else if line == "```json" {
                block = Some(String::new());
            } else if line.starts_with('#') {
                current = line
                    .strip_prefix("#### `csp.cmd.")
                    .or_else(|| line.strip_prefix("#### `csp.qry."))
                    .and_then(|rest| rest.strip_suffix('`'))
                    .map(str::to_string);
                if let Some(name) = &current {
                    assert!(
                        !sections.contains_key(name),
                        "README.md documents {name} twice"
                    );
                    sections.insert(name.clone(), Vec::new());
                }
            }
        }
        sections
    })
}

/// The README documents `name` of `service` with the request of `json/<service>/<name>.json`
/// and at least one successful reply; every reply it shows is what the contract's reply type
/// reads and writes back field for field (an `ok` one), or an `ApiError` (a refused one).
fn documented<R: DeserializeOwned + Serialize>(service: &str, name: &str) -> String {
    let key = format!("{service}.{name}");
    let blocks = readme()
        .get(&key)
        .unwrap_or_else(|| panic!("README.md has no section for {key}"));
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("json")
        .join(service)
        .join(format!("{name}.json"));
    let request: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        blocks.first(),
        Some(&request),
        "{key}: README.md's request differs from {}",
        file.display()
    );
    let mut ok = 0;
    for reply in &blocks[1..] {
        let fields: Vec<&str> = reply
            .as_object()
            .unwrap_or_else(|| panic!("{key}: a reply is an object: {reply}"))
            .keys()
            .map(String::as_str)
            .collect();
        match reply["ok"].as_bool() {
            Some(true) => {
                assert_eq!(fields, ["ok", "result"], "{key}: {reply}");
                let result = &reply["result"];
                let decoded: R = serde_json::from_value(result.clone())
                    .unwrap_or_else(|e| panic!("{key}: the documented reply: {e}"));
                assert_eq!(
                    &serde_json::to_value(&decoded).unwrap(),
                    result,
                    "{key}: the documented reply is not what the service writes"
                );
                ok += 1;
            }
            Some(false) => {
                assert_eq!(fields, ["error", "ok"], "{key}: {reply}");
                serde_json::from_value::<ApiError>(reply["error"].clone())
                    .unwrap_or_else(|e| panic!("{key}: the documented error: {e}"));
            }
            None => panic!("{key}: a reply without `ok`: {reply}"),
        }
    }
    assert!(ok > 0, "{key}: README.md shows no successful reply");
    key
}

fn example(name: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let path = ["ordering", "entitlement", "billing", "audit", "counter"]
        .iter()
        .map(|service| root.join(service).join(format!("{name}.json")))
        .find(|p| p.exists())
        .unwrap_or_else(|| root.join(format!("{name}.json")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of a service's JSON examples (`json/<service>/*.json`), sorted.
fn example_names(service: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("json")
            .join(service),
    )
    .unwrap()
    .map(|e| {
        e.unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string()
    })
    .collect();
    names.sort();
    names
}

fn with_field(body: &[u8], key: &str, value: Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v.as_object_mut().unwrap().insert(key.into(), value);
    serde_json::to_vec(&v).unwrap()
}

fn check<T: serde::de::DeserializeOwned + serde::Serialize>(name: &str) {
    let body = example(name);
    let decoded: T = decode_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The example survives a round trip through the type.
    let again: T = decode_json(&serde_json::to_vec(&decoded).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&decoded).unwrap()
    );
    let e = decode_json::<T>(&with_field(&body, "surprise", Value::from(1)))
        .err()
        .unwrap_or_else(|| panic!("{name} accepted an unknown field"));
    assert_eq!(e.code, ErrorCode::InvalidRequest, "{name}");
    assert_eq!(e.details["path"], "surprise", "{name}: {e}");
    assert!(e.message.contains("unknown field"), "{name}: {e}");
    // A body is an object: not the example's values as an array, nor any other JSON value.
    let fields: serde_json::Map<String, Value> = serde_json::from_slice(&body).unwrap();
    let positional = Value::Array(fields.into_iter().map(|(_, v)| v).collect());
    for shape in [positional, "x".into(), 1.into(), true.into(), Value::Null] {
        let e = decode_json::<T>(&serde_json::to_vec(&shape).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{name} accepted {shape}"));
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{name}");
        assert_eq!(e.details["path"], ".", "{name}: {shape}: {e}");
    }
}

/// [`documented`], for the one service whose example folder holds `name`.
fn documented_somewhere<R: DeserializeOwned + Serialize>(name: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let service = ["ordering", "entitlement", "billing", "audit", "counter"]
        .into_iter()
        .find(|s| root.join(s).join(format!("{name}.json")).exists())
        .unwrap_or_else(|| panic!("no example for {name}"));
    documented::<R>(service, name);
}

#[test]
fn the_readme_documents_every_endpoint_once_and_nothing_else() {
    let mut endpoints: Vec<String> = ["ordering", "entitlement", "billing", "audit", "counter"]
        .iter()
        .flat_map(|s| {
            example_names(s)
                .into_iter()
                .map(move |n| format!("{s}.{n}"))
        })
        .collect();
    endpoints.sort();
    let sections: Vec<String> = readme().keys().cloned().collect();
    assert_eq!(sections, endpoints);
}

fn command<T: CommandBody>() -> &'static str {
    check::<T>(T::NAME);
    documented_somewhere::<T::Reply>(T::NAME);
    let body = example(T::NAME);
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v.as_object_mut().unwrap().remove("request_id");
    let e = decode_json::<T>(&serde_json::to_vec(&v).unwrap())
        .err()
        .unwrap_or_else(|| panic!("{} accepted a body without request_id", T::NAME));
    assert!(e.message.contains("request_id"), "{}: {e}", T::NAME);
    T::NAME
}

fn query<T: QueryBody>() -> &'static str {
    check::<T>(T::NAME);
    documented_somewhere::<T::Reply>(T::NAME);
    T::NAME
}

#[test]
fn every_command_and_query_refuses_unknown_fields_and_has_an_example() {
    let mut names = vec![
        command::<AddCustomer>(),
        command::<PlaceOrder>(),
        command::<ImportOrders>(),
        command::<SetAutoRenew>(),
        command::<CancelSubscription>(),
        command::<CancelPerpetual>(),
        command::<FileRefundRequest>(),
        command::<DecideRefundRequest>(),
        query::<ReviewOrder>(),
        query::<CancellationInfo>(),
        query::<GetCustomers>(),
        query::<GetOrders>(),
        query::<GetOrder>(),
        query::<GetSubscriptions>(),
        query::<GetSubscription>(),
        query::<GetPurchases>(),
    ];
    names.sort();
    let files = example_names("ordering");
    assert_eq!(names, files, "one example per command and query, no strays");
}

#[test]
fn every_entitlement_endpoint_refuses_unknown_fields_and_has_an_example() {
    use csp_events::entitlement::*;
    let mut names = vec![
        command::<GenerateKeys>(),
        command::<ImportKeys>(),
        command::<ImportDevices>(),
        command::<RecordMakDeployment>(),
        query::<GetSoftware>(),
        query::<GetKey>(),
        query::<GetDownloadLink>(),
        query::<CopyLink>(),
        query::<GetKeyPools>(),
        query::<GetImportKey>(),
        query::<GetMigrationPlan>(),
    ];
    names.sort();
    let files = example_names("entitlement");
    assert_eq!(names, files, "one example per endpoint, no strays");
}

#[test]
fn every_billing_query_refuses_unknown_fields_and_has_an_example() {
    use csp_events::billing::*;
    let mut names = vec![
        query::<GetInvoice>(),
        query::<ListInvoices>(),
        query::<PreviewInvoice>(),
        query::<GetCharges>(),
        query::<ExportReconciliation>(),
    ];
    names.sort();
    let files = example_names("billing");
    assert_eq!(names, files, "one example per query, no strays");
}

#[test]
fn every_audit_endpoint_refuses_unknown_fields_and_has_an_example() {
    use csp_events::audit::*;
    let mut names = vec![
        command::<SignCheckpoint>(),
        query::<GetCheckpoint>(),
        query::<ProveInclusion>(),
        query::<ProveConsistency>(),
        query::<Verify>(),
        query::<GetActivity>(),
    ];
    names.sort();
    let files = example_names("audit");
    assert_eq!(names, files, "one example per endpoint, no strays");
}

#[test]
fn the_counter_commands_refuse_unknown_fields_too() {
    use csp_events::counter::{GetCounter, Increment, OpenCounter};
    let mut names = vec![
        command::<OpenCounter>(),
        command::<Increment>(),
        query::<GetCounter>(),
    ];
    names.sort();
    let files = example_names("counter");
    assert_eq!(names, files);
}

#[test]
fn nested_unknown_fields_are_named_by_path() {
    let body = br#"{"request_id":"r1","customer":"contoso.onmicrosoft.com","lines":[
        {"product":"p","sku":"s","quantity":1,"term":"P1Y","billing_plan":"annual","discount":5}]}"#;
    let e = decode_json::<PlaceOrder>(body).unwrap_err();
    assert_eq!(e.details["path"], "lines[0].discount");
}

#[test]
fn wrong_types_and_negative_quantities_name_the_field() {
    let body = br#"{"request_id":"r1","customer":"contoso.onmicrosoft.com","lines":[
        {"product":"p","sku":"s","quantity":-1,"term":"P1Y","billing_plan":"annual"}]}"#;
    let e = decode_json::<PlaceOrder>(body).unwrap_err();
    assert_eq!(e.details["path"], "lines[0].quantity");
    let body = br#"{"request_id":"r1","customer":"contoso.onmicrosoft.com","lines":[
        {"product":"p","sku":"s","quantity":"2","term":"P2Y","billing_plan":"annual"}]}"#;
    let e = decode_json::<PlaceOrder>(body).unwrap_err();
    assert_eq!(e.details["path"], "lines[0].quantity");
    let body = br#"{"request_id":"r1","customer":"contoso.onmicrosoft.com","lines":[
        {"product":"p","sku":"s","quantity":2,"term":"P2Y","billing_plan":"annual"}]}"#;
    let e = decode_json::<PlaceOrder>(body).unwrap_err();
    assert_eq!(e.details["path"], "lines[0].term");
}

#[test]
fn a_body_with_its_values_in_field_order_is_still_not_an_object() {
    // Found from outside: serde reads a struct from an array of its fields in declaration
    // order, so this body placed a real order.
    let body = br#"["po-1","0190d7a1-4c2b-7e55-9a3f-5b7f2c1e0c01",
        [["windows-server-2022-datacenter","16-core-p1y",1,"P1Y","annual"]]]"#;
    let e = decode_json::<PlaceOrder>(body).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.details["path"], ".", "{e}");
    // The same inside a body: a line, an imported order, an amount, a contact, an attachment.
    let line = serde_json::json!([
        "windows-server-2022-datacenter",
        "16-core-p1y",
        1,
        "P1Y",
        "annual"
    ]);
    let e = decode_json::<PlaceOrder>(&with_field(&example("place_order"), "lines", [line].into()))
        .unwrap_err();
    assert_eq!(e.details["path"], "lines[0]", "{e}");
    let imported = serde_json::json!([
        "contoso.onmicrosoft.com",
        "2021-10-13T15:30:00Z",
        [{"product": "sql-server-2022-standard", "sku": "2-core-p1y", "quantity": 4,
          "term": "P1Y", "billing_plan": "annual"}]
    ]);
    let e = decode_json::<ImportOrders>(&with_field(
        &example("import_orders"),
        "orders",
        [imported].into(),
    ))
    .unwrap_err();
    assert_eq!(e.details["path"], "orders[0]", "{e}");
    for (field, value, path) in [
        (
            "amount_requested",
            serde_json::json!([389900, "AUD"]),
            "amount_requested",
        ),
        (
            "contact",
            serde_json::json!(["Ana Souza", "ana@partner.example", "+61 2 5550 0100"]),
            "contact",
        ),
        (
            "attachments",
            serde_json::json!([["invoice.pdf", 48213]]),
            "attachments[0]",
        ),
    ] {
        let body = with_field(&example("file_refund_request"), field, value);
        let e = decode_json::<FileRefundRequest>(&body).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.details["path"], path, "{e}");
    }
}
