//! The JSON edge: how any client, in any language, talks to a csp service.
//!
//! Every reply has one shape — `{"ok":true,"result":...}` or
//! `{"ok":false,"error":{"code":"...","message":"...","details":{...}}}` — and every error code is
//! a stable snake_case string from [`ErrorCode`]. Request bodies decode strictly: unknown fields
//! are refused, and a body that does not decode is `invalid_request` with the JSON path of the
//! offending field in `details.path`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::error::Category;
use serde_json::Value;

use crate::event::ItemRef;
use crate::id::TenantId;

mod strict;

/// Every error code a csp service answers with. The wire form is the snake_case name; it never
/// changes once released, so clients may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body does not decode: bad JSON, an unknown field, a wrong type, a missing field.
    InvalidRequest,
    /// The body is larger than the service accepts.
    PayloadTooLarge,
    /// No token, or a token that is expired, badly signed or from an unknown issuer.
    Unauthenticated,
    /// The verified actor may not do this. Recorded as an `AccessRefused` event.
    Forbidden,
    /// The `request_id` was already used with a different body.
    IdempotencyConflict,
    /// The named customer, order, subscription or request does not exist (for this actor).
    NotFound,
    /// The thing to create exists already (a customer added twice).
    AlreadyExists,
    /// The order decodes but breaks a rule of its own (quantity 0, no lines...), rule O2.
    InvalidOrder,
    /// The product or SKU is not in the catalog.
    UnknownProduct,
    /// Azure Reservations are not sold in the customer's market, rule M1.
    MarketUnavailable,
    /// The SKU does not offer the billing plan asked for, rule M3.
    BillingPlanUnavailable,
    /// The cancellation window has passed, rules O8 and O10.
    CancellationWindowClosed,
    /// RedHat and SUSE plans can never be cancelled, rule O9.
    NotCancellable,
    /// Auto-renew cannot be turned on for a pre-cut-over subscription, rule O6.
    AutorenewUnavailable,
    /// The subscription or purchase is already cancelled or expired.
    InvalidState,
    /// Another writer changed the same stream first; retrying with the same `request_id` is safe.
    Conflict,
    /// The service cannot answer now (shutting down, storage failure); retry later.
    Unavailable,
    /// A bug or an unexpected failure; nothing was recorded.
    Internal,
    /// A key or download selection the product does not offer (RULES.md K2), or any selection
    /// for a product sold as a license only (K1).
    InvalidOption,
    /// A KMS key was asked for: CSP activates by MAK only (RULES.md K4), whoever asks.
    KmsNotAllowed,
    /// No key of that product, SKU and version is left to assign: a platform importer must
    /// fill the pool.
    KeyPoolEmpty,
    /// The entitlement's purchase was cancelled: its keys and links are revoked (RULES.md K8).
    EntitlementRevoked,
    /// The entitlement's subscription expired: its keys and links no longer work.
    EntitlementExpired,
    /// A download link whose signature does not verify.
    BadSignature,
    /// A download link past its expiry.
    LinkExpired,
    /// A download link of an entitlement that was revoked or expired since it was issued.
    LinkRevoked,
}

impl ErrorCode {
    /// The stable wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::InvalidOrder => "invalid_order",
            ErrorCode::UnknownProduct => "unknown_product",
            ErrorCode::MarketUnavailable => "market_unavailable",
            ErrorCode::BillingPlanUnavailable => "billing_plan_unavailable",
            ErrorCode::CancellationWindowClosed => "cancellation_window_closed",
            ErrorCode::NotCancellable => "not_cancellable",
            ErrorCode::AutorenewUnavailable => "autorenew_unavailable",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidOption => "invalid_option",
            ErrorCode::KmsNotAllowed => "kms_not_allowed",
            ErrorCode::KeyPoolEmpty => "key_pool_empty",
            ErrorCode::EntitlementRevoked => "entitlement_revoked",
            ErrorCode::EntitlementExpired => "entitlement_expired",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::LinkExpired => "link_expired",
            ErrorCode::LinkRevoked => "link_revoked",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong and what to do instead, for people.
    pub message: String,
    /// Structured facts: `path` for `invalid_request`, `window_ends_at`, `available_plans`...
    #[serde(default)]
    pub details: serde_json::Map<String, Value>,
    /// Set on a refusal of access: what the runtime records as one `AccessRefused` and never
    /// sends (a refused actor learns nothing it could not know already).
    #[serde(skip)]
    pub refused: Option<Box<Refused>>,
}

/// Whom an access refusal concerned, for the audit trail: the customer and the item, when the
/// refusing code knows them (they exist). Kept out of the reply: a `not_found` for another
/// partner's customer reads exactly like one for a customer that does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refused {
    /// The customer the actor tried to reach.
    pub customer: Option<TenantId>,
    /// The item, when it was one.
    pub item: Option<ItemRef>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: serde_json::Map::new(),
            refused: None,
        }
    }

    /// Marks this error as a refusal of access, concerning `customer` and `item`: the runtime
    /// records it as one `AccessRefused` (every `forbidden` is one, marked or not; a `not_found`
    /// is one only when marked — the item exists, the actor may not know it).
    pub fn refusal(mut self, customer: Option<TenantId>, item: Option<ItemRef>) -> ApiError {
        self.refused = Some(Box::new(Refused { customer, item }));
        self
    }

    /// Whether the runtime records this rejection as an access refusal.
    pub fn is_refusal(&self) -> bool {
        self.code == ErrorCode::Forbidden || self.refused.is_some()
    }

    /// Adds one detail.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The one reply shape of every command and query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawReply", into = "RawReply")]
pub enum Reply {
    /// `{"ok":true,"result":...}`
    Ok(Value),
    /// `{"ok":false,"error":{...}}`
    Err(ApiError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReply {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

impl From<Reply> for RawReply {
    fn from(r: Reply) -> Self {
        match r {
            Reply::Ok(v) => RawReply {
                ok: true,
                result: Some(v),
                error: None,
            },
            Reply::Err(e) => RawReply {
                ok: false,
                result: None,
                error: Some(e),
            },
        }
    }
}

impl TryFrom<RawReply> for Reply {
    type Error = String;
    fn try_from(r: RawReply) -> Result<Self, String> {
        match (r.ok, r.result, r.error) {
            (true, Some(v), None) => Ok(Reply::Ok(v)),
            (true, None, None) => Ok(Reply::Ok(Value::Null)),
            (false, None, Some(e)) => Ok(Reply::Err(e)),
            _ => Err("a reply has ok:true with a result, or ok:false with an error".into()),
        }
    }
}

impl Reply {
    /// A success carrying `result`.
    pub fn ok<T: Serialize>(result: &T) -> Reply {
        match serde_json::to_value(result) {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Err(ApiError::new(
                ErrorCode::Internal,
                format!("could not encode the result: {e}"),
            )),
        }
    }

    /// The JSON bytes sent on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A Value tree with string keys always serialises.
        serde_json::to_vec(self).unwrap_or_else(|_| {
            br#"{"ok":false,"error":{"code":"internal","message":"reply encoding failed","details":{}}}"#
                .to_vec()
        })
    }
}

/// A client-chosen idempotency key, unique per tenant: 1 to 128 printable ASCII characters
/// without spaces (`!` to `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    /// Checks the shape.
    pub fn new(s: impl Into<String>) -> Result<RequestId, String> {
        let s = s.into();
        if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(RequestId(s))
        } else {
            Err(format!(
                "invalid request_id {s:?}: expected 1 to 128 printable ASCII characters without spaces"
            ))
        }
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RequestId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A customer named by tenant id (a GUID) or by domain name (`contoso.onmicrosoft.com`), as
/// Partner Center allows (rule O2). In JSON it is one string; a GUID-shaped string is a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum CustomerRef {
    /// By tenant id.
    Tenant(TenantId),
    /// By domain name, lower-cased.
    Domain(String),
}

impl From<CustomerRef> for String {
    fn from(c: CustomerRef) -> String {
        c.to_string()
    }
}

impl fmt::Display for CustomerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomerRef::Tenant(t) => t.fmt(f),
            CustomerRef::Domain(d) => f.write_str(d),
        }
    }
}

/// Checks a domain name's shape and lower-cases it (domains are case-insensitive).
pub fn normalise_domain(s: &str) -> Result<String, String> {
    let d = s.to_ascii_lowercase();
    let labels_ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if d.len() <= 253 && d.contains('.') && labels_ok {
        Ok(d)
    } else {
        Err(format!(
            "invalid customer {s:?}: expected a tenant id (GUID) or a domain name such as contoso.onmicrosoft.com"
        ))
    }
}

impl std::str::FromStr for CustomerRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(u) = uuid::Uuid::parse_str(s) {
            return Ok(CustomerRef::Tenant(TenantId(u)));
        }
        normalise_domain(s).map(CustomerRef::Domain)
    }
}

impl<'de> Deserialize<'de> for CustomerRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A command body: it has a name (the last token of `csp.cmd.<service>.<name>`) and carries the
/// `request_id` that makes retries safe.
pub trait CommandBody: DeserializeOwned + Serialize {
    /// The command's name on the bus.
    const NAME: &'static str;
    /// The `result` of its `{"ok":true,"result":...}` reply: a contract type, so the reply's
    /// JSON changes only when the contract does, and a client in Rust decodes it as it is.
    type Reply: DeserializeOwned + Serialize;
    /// The idempotency key.
    fn request_id(&self) -> &RequestId;
}

/// A query body: named like a command, and never recorded.
pub trait QueryBody: DeserializeOwned + Serialize {
    /// The query's name on the bus.
    const NAME: &'static str;
    /// The `result` of its reply, as for [`CommandBody::Reply`].
    type Reply: DeserializeOwned + Serialize;
}

/// Binds a command body to its name and reply type (the body has a `request_id` field).
macro_rules! command {
    ($ty:ident, $name:literal, $reply:ty) => {
        impl $crate::api::CommandBody for $ty {
            const NAME: &'static str = $name;
            type Reply = $reply;
            fn request_id(&self) -> &$crate::api::RequestId {
                &self.request_id
            }
        }
    };
}
pub(crate) use command;

/// Binds a query body to its name and reply type.
macro_rules! query {
    ($ty:ident, $name:literal, $reply:ty) => {
        impl $crate::api::QueryBody for $ty {
            const NAME: &'static str = $name;
            type Reply = $reply;
        }
    };
}
pub(crate) use query;

/// Decodes a request body strictly. On failure: `invalid_request`, with `details.path` the JSON
/// path of the offending field (`lines[0].quantity`; `.` for the body itself) and
/// `details.reason` what was wrong with it. Structs are read from objects only (`api/strict.rs`
/// says why). A body that is not JSON at all (truncated, not UTF-8, a trailing comma) is `.`:
/// the typed decoder's path there is only where the parser happened to stop, often a field the
/// client got right; the reason keeps the line and column. serde_json's recursion limit (128)
/// turns absurdly deep nesting into the same error instead of a stack overflow.
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value =
        serde_path_to_error::deserialize::<_, T>(strict::ObjectsOnly(&mut de)).map_err(|e| {
            let mut path = e.path().to_string();
            let error = e.into_inner();
            if matches!(error.classify(), Category::Syntax | Category::Eof) {
                path = ".".to_string();
            }
            let reason = error.to_string();
            // serde reports a missing or duplicated field at the path of the object that holds
            // it; name the field itself, as for every other error.
            if let Some(field) = reason
                .strip_prefix("missing field `")
                .or_else(|| reason.strip_prefix("duplicate field `"))
                .and_then(|rest| rest.split('`').next())
            {
                path = if path == "." {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                };
            }
            invalid_request(&path, reason)
        })?;
    de.end().map_err(|e| invalid_request(".", e.to_string()))?;
    Ok(value)
}

fn invalid_request(path: &str, reason: String) -> ApiError {
    let message = if path == "." {
        format!("the body is not a valid request: {reason}")
    } else {
        format!("field `{path}`: {reason}")
    };
    ApiError::new(ErrorCode::InvalidRequest, message)
        .with("path", path)
        .with("reason", reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        a: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn decode_errors_name_the_path() {
        let e = decode_json::<Probe>(br#"{"a":[{"n":1},{"n":-1}]}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.details["path"], "a[1].n");
        let e = decode_json::<Probe>(br#"{"a":[],"b":1}"#).unwrap_err();
        assert_eq!(e.details["path"], "b");
        assert!(e.message.contains("unknown field"), "{}", e.message);
        let e = decode_json::<Probe>(br#"{"a":[{}]}"#).unwrap_err();
        assert_eq!(e.details["path"], "a[0].n", "a missing field is named: {e}");
        let e = decode_json::<Probe>(br#"{}"#).unwrap_err();
        assert_eq!(e.details["path"], "a");
        let e = decode_json::<Probe>(br#"{"a":[{"n":1,"n":2}]}"#).unwrap_err();
        assert_eq!(
            e.details["path"], "a[0].n",
            "a duplicated field is named: {e}"
        );
        let e = decode_json::<Probe>(b"{not json").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = decode_json::<Probe>(br#"{"a":[]} trailing"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    /// A body with an optional nested struct and an enum with a struct variant, to reach every
    /// place serde would otherwise read a struct from an array.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        inner: Inner,
        #[serde(default)]
        maybe: Option<Inner>,
        #[serde(default)]
        choice: Option<Choice>,
        #[serde(default)]
        pair: Option<(u32, u32)>,
        #[serde(default)]
        any: Option<Value>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Choice {
        Plain,
        Wrapped(Inner),
        Shaped { n: u32 },
        Tupled(u32, u32),
    }

    #[test]
    fn structs_are_objects_never_arrays() {
        for body in [&br#"[[{"n":1}]]"#[..], br#"[[]]"#, b"[]"] {
            let e = decode_json::<Probe>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.details["path"], ".", "the body itself: {e}");
            assert!(e.message.contains("sequence"), "{}", e.message);
        }
        for body in [&b"\"a\""[..], b"1", b"null", b"true"] {
            let e = decode_json::<Probe>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.details["path"], ".", "{e}");
        }
        // Nested structs, wherever they sit: in a list, a field, an option, an enum's variant.
        for (body, path) in [
            (&br#"{"a":[[1]]}"#[..], "a[0]"),
            (br#"{"a":[{"n":1},[2]]}"#, "a[1]"),
        ] {
            let e = decode_json::<Probe>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.details["path"], path, "{e}");
        }
        for (body, path) in [
            (&br#"{"inner":[1]}"#[..], "inner"),
            (br#"{"inner":{"n":1},"maybe":[1]}"#, "maybe"),
            (
                br#"{"inner":{"n":1},"choice":{"wrapped":[1]}}"#,
                "choice.wrapped",
            ),
            (
                br#"{"inner":{"n":1},"choice":{"shaped":[1]}}"#,
                "choice.shaped",
            ),
        ] {
            let e = decode_json::<Nested>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.details["path"], path, "{e}");
        }
        // What is a sequence by nature still reads as one; objects still decode.
        let ok = decode_json::<Nested>(
            br#"{"inner":{"n":1},"maybe":{"n":2},"choice":{"tupled":[1,2]},"pair":[3,4],
                 "any":[1,{"b":[2]}]}"#,
        )
        .expect("objects and sequences where sequences belong");
        assert!(matches!(ok.choice, Some(Choice::Tupled(1, 2))));
        assert_eq!(ok.pair, Some((3, 4)));
        for choice in [
            r#""plain""#,
            r#"{"wrapped":{"n":1}}"#,
            r#"{"shaped":{"n":1}}"#,
        ] {
            let body = format!(r#"{{"inner":{{"n":1}},"choice":{choice}}}"#);
            decode_json::<Nested>(body.as_bytes()).expect(choice);
        }
    }

    #[test]
    fn a_syntax_error_names_the_body_itself() {
        for body in [
            &br#"{"a":[{"n":1}"#[..],
            br#"{"a":[{"n":1},]}"#,
            br#"{"a":[{"n":1}],}"#,
            b"{\"a\":[{\"n\":1}],\"\xff\":1}",
            b"{\"a\":[{\"n\":1}],\"\xc3\x28\":1}",
            b"\xff",
            b"",
            b"{not json",
            br#"{"a":[]} trailing"#,
        ] {
            let e = decode_json::<Probe>(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.details["path"], ".", "{body:?}: {e}");
            assert!(e.message.contains("line 1"), "the reason says where: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = decode_json::<Probe>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let body = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        let e = decode_json::<Probe>(body.as_bytes()).unwrap_err();
        assert_eq!(
            e.details["path"], "a[0]",
            "the typed decoder stops at the first wrong type: an array for a struct"
        );
        // Where a field takes any JSON, serde_json's recursion limit stops the descent.
        let e = decode_json::<Value>(body.as_bytes()).unwrap_err();
        assert!(e.message.contains("recursion limit"), "{}", e.message);
    }

    #[test]
    fn replies_have_one_shape() {
        let ok = Reply::ok(&serde_json::json!({"order_id": "x"}));
        assert_eq!(
            String::from_utf8(ok.to_bytes()).unwrap(),
            r#"{"ok":true,"result":{"order_id":"x"}}"#
        );
        let err = Reply::Err(
            ApiError::new(ErrorCode::CancellationWindowClosed, "closed")
                .with("window_ends_at", "2026-01-08T00:00:00Z"),
        );
        let text = String::from_utf8(err.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"ok":false,"error":{"code":"cancellation_window_closed","message":"closed","details":{"window_ends_at":"2026-01-08T00:00:00Z"}}}"#
        );
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), err);
        assert!(serde_json::from_str::<Reply>(
            r#"{"ok":true,"error":{"code":"internal","message":""}}"#
        )
        .is_err());
    }

    #[test]
    fn customers_are_named_by_tenant_or_domain() {
        let t: CustomerRef =
            serde_json::from_str("\"0195f3a0-0000-7000-8000-000000000001\"").unwrap();
        assert!(matches!(t, CustomerRef::Tenant(_)));
        let d: CustomerRef = serde_json::from_str("\"Contoso.OnMicrosoft.com\"").unwrap();
        assert_eq!(d, CustomerRef::Domain("contoso.onmicrosoft.com".into()));
        assert!(serde_json::from_str::<CustomerRef>("\"not a domain\"").is_err());
        assert!(serde_json::from_str::<CustomerRef>("\"localhost\"").is_err());
    }

    #[test]
    fn request_ids_are_bounded() {
        assert!(RequestId::new("r-1").is_ok());
        assert!(RequestId::new("").is_err());
        assert!(RequestId::new("a b").is_err());
        assert!(RequestId::new("a\tb").is_err());
        assert!(RequestId::new("caf\u{e9}").is_err());
        assert!(RequestId::new("!~").is_ok());
        assert!(RequestId::new("x".repeat(128)).is_ok());
        assert!(RequestId::new("x".repeat(129)).is_err());
    }

    #[test]
    fn every_error_code_has_a_stable_name() {
        let codes = [
            ErrorCode::InvalidRequest,
            ErrorCode::PayloadTooLarge,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::IdempotencyConflict,
            ErrorCode::NotFound,
            ErrorCode::AlreadyExists,
            ErrorCode::InvalidOrder,
            ErrorCode::UnknownProduct,
            ErrorCode::MarketUnavailable,
            ErrorCode::BillingPlanUnavailable,
            ErrorCode::CancellationWindowClosed,
            ErrorCode::NotCancellable,
            ErrorCode::AutorenewUnavailable,
            ErrorCode::InvalidState,
            ErrorCode::Conflict,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ];
        for c in codes {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
