//! One deterministic sample envelope per event kind: the source of the golden files in
//! `events/fixtures/`. The match in [`sample`] has no wildcard, so adding an event kind does not
//! compile until it has a sample, and the fixtures test fails until its file is generated
//! (`cargo xtask fixtures`, a deliberate command; tests never write fixtures).

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::actor::{Actor, ActorKind, Role};
use crate::billing as bill;
use crate::codec;
use crate::entitlement as ent;
use crate::envelope::{Envelope, OutboxPosition};
use crate::event::*;
use crate::id::*;
use crate::market::{CountryCode, ProductId, SkuId};
use crate::money::{Currency, Money};
use crate::ordering::*;
use crate::time::Timestamp;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn at(y: i32, mo: u32, d: u32, h: u32) -> Timestamp {
    Timestamp::ymd_hms(y, mo, d, h, 0, 0).unwrap_or(Timestamp::EPOCH)
}

const PARTNER: TenantId = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0a01));
const CUSTOMER: TenantId = TenantId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0c01));

fn november_2026() -> bill::Month {
    "2026-11"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid month"))
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

fn country(s: &str) -> CountryCode {
    s.parse().unwrap_or_else(|_| unreachable_country())
}

fn unreachable_country() -> CountryCode {
    // Only reached if a literal above is mistyped; the fixtures test would then fail loudly.
    "ZZ".parse().expect("ZZ is two upper-case letters")
}

fn product(s: &str) -> ProductId {
    ProductId::new(s).expect("sample product ids are valid")
}

fn sku(s: &str) -> SkuId {
    SkuId::new(s).expect("sample sku ids are valid")
}

fn policy() -> PolicyRef {
    PolicyRef {
        version: 1,
        cancellation_window_hours: Some(168),
    }
}

const ORDER: OrderId = OrderId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0d01));
const SUB: SubscriptionId =
    SubscriptionId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0e01));
const PURCHASE: PurchaseId = PurchaseId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0f01));
const REFUND: RefundRequestId =
    RefundRequestId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0b01));

fn payload(kind: EventKind) -> Event {
    let start = at(2026, 11, 2, 9);
    match kind {
        EventKind::AccessRefused => AccessRefused {
            service: "ordering".into(),
            action: "place_order".into(),
            customer: Some(CUSTOMER),
            reason: "sales_agent may not buy on a customer's behalf".into(),
            item: Some(crate::event::ItemRef::new("order", ORDER)),
        }
        .into(),
        EventKind::Quarantined => Quarantined {
            producer: "ordering".into(),
            subject: format!("csp.evt.ordering.order_placed.{PARTNER}.{CUSTOMER}"),
            reason: "malformed record: unexpected end of input".into(),
            raw: vec![1, 0xde, 0xad],
        }
        .into(),
        EventKind::CommandRejected => CommandRejected {
            command: "place_order".into(),
            request_id: Some("po-2026-11-02-0001".into()),
            code: "market_unavailable".into(),
            message: "Azure Reservations are not available in HT".into(),
        }
        .into(),
        EventKind::CustomerAdded => CustomerAdded {
            customer: CUSTOMER,
            partner: PARTNER,
            domain: "contoso.onmicrosoft.com".into(),
            company_name: "Contoso Ltd".into(),
            country: country("US"),
            currency: Currency::USD,
        }
        .into(),
        EventKind::OrderPlaced => OrderPlaced {
            order: ORDER,
            customer: CUSTOMER,
            partner: PARTNER,
            customer_country: country("US"),
            currency: Currency::USD,
            purchased_at: start,
            backfilled: false,
            lines: vec![
                PricedLine {
                    line: 1,
                    product: product("windows-server-2022-datacenter"),
                    sku: sku("16-core-p3y"),
                    product_name: "Windows Server 2022 Datacenter - 16 Core License Pack".into(),
                    kind: ProductKind::SoftwareSubscription,
                    quantity: 2,
                    term: Term::P3Y,
                    billing_plan: BillingPlan::Annual,
                    unit_price: usd(1_845_000),
                    line_price: usd(3_690_000),
                    tax_inclusive: false,
                    license_only: false,
                    policy: policy(),
                    creates: LineItem::Subscription(SUB),
                },
                PricedLine {
                    line: 2,
                    product: product("sql-server-2022-standard-perpetual"),
                    sku: sku("2-core"),
                    product_name: "SQL Server 2022 Standard - 2 Core License Pack".into(),
                    kind: ProductKind::PerpetualSoftware,
                    quantity: 1,
                    term: Term::Perpetual,
                    billing_plan: BillingPlan::OneTime,
                    unit_price: usd(389_900),
                    line_price: usd(389_900),
                    tax_inclusive: false,
                    license_only: false,
                    policy: PolicyRef {
                        version: 1,
                        cancellation_window_hours: Some(720),
                    },
                    creates: LineItem::Perpetual(PURCHASE),
                },
            ],
            total: usd(4_079_900),
        }
        .into(),
        EventKind::SubscriptionStarted => SubscriptionStarted {
            subscription: SUB,
            order: ORDER,
            line: 1,
            customer: CUSTOMER,
            partner: PARTNER,
            customer_country: country("US"),
            product: product("windows-server-2022-datacenter"),
            sku: sku("16-core-p3y"),
            product_name: "Windows Server 2022 Datacenter - 16 Core License Pack".into(),
            kind: ProductKind::SoftwareSubscription,
            quantity: 2,
            term: Term::P3Y,
            billing_plan: BillingPlan::Annual,
            unit_price: usd(1_845_000),
            term_price: usd(3_690_000),
            tax_inclusive: false,
            license_only: false,
            term_start: start,
            term_end: at(2029, 11, 2, 9),
            auto_renew: true,
            before_cutover: false,
            cancellable_until: Some(at(2026, 11, 9, 9)),
            policy: policy(),
        }
        .into(),
        EventKind::SubscriptionRenewed => SubscriptionRenewed {
            subscription: SUB,
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 2,
            term_start: at(2029, 11, 2, 9),
            term_end: at(2032, 11, 2, 9),
            billing_plan: BillingPlan::Annual,
            term_price: usd(3_690_000),
            cancellable_until: Some(at(2029, 11, 9, 9)),
        }
        .into(),
        EventKind::SubscriptionExpired => SubscriptionExpired {
            subscription: SUB,
            customer: CUSTOMER,
            partner: PARTNER,
            expired_at: at(2029, 11, 2, 9),
        }
        .into(),
        EventKind::AutoRenewChanged => AutoRenewChanged {
            subscription: SUB,
            customer: CUSTOMER,
            partner: PARTNER,
            auto_renew: false,
        }
        .into(),
        EventKind::SubscriptionCancelled => SubscriptionCancelled {
            subscription: SUB,
            order: ORDER,
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 1,
            term_start: start,
            term_end: at(2029, 11, 2, 9),
            term_price: usd(3_690_000),
            billing_plan: BillingPlan::Annual,
            cancelled_at: at(2026, 11, 5, 12),
        }
        .into(),
        EventKind::PerpetualPurchased => PerpetualPurchased {
            purchase: PURCHASE,
            order: ORDER,
            line: 2,
            customer: CUSTOMER,
            partner: PARTNER,
            customer_country: country("US"),
            product: product("sql-server-2022-standard-perpetual"),
            sku: sku("2-core"),
            product_name: "SQL Server 2022 Standard - 2 Core License Pack".into(),
            quantity: 1,
            unit_price: usd(389_900),
            price: usd(389_900),
            tax_inclusive: false,
            license_only: false,
            purchased_at: start,
            cancellable_until: Some(at(2026, 12, 2, 9)),
            policy: PolicyRef {
                version: 1,
                cancellation_window_hours: Some(720),
            },
        }
        .into(),
        EventKind::PerpetualCancelled => PerpetualCancelled {
            purchase: PURCHASE,
            order: ORDER,
            customer: CUSTOMER,
            partner: PARTNER,
            price: usd(389_900),
            cancelled_at: at(2026, 11, 12, 9),
        }
        .into(),
        EventKind::RefundRequestFiled => RefundRequestFiled {
            refund_request: REFUND,
            customer: CUSTOMER,
            partner: PARTNER,
            subject: RefundSubject::Order(ORDER),
            reason: "Bought the wrong edition".into(),
            amount_requested: usd(389_900),
            contact: Contact {
                name: "Ana Souza".into(),
                email: "ana@partner.example".into(),
                phone: "+55 11 5555 0100".into(),
            },
            impact: Some("Customer cannot deploy".into()),
            title: Some("Refund SQL Server order".into()),
            attachments: vec![Attachment {
                name: "invoice.pdf".into(),
                size_bytes: 48_213,
            }],
        }
        .into(),
        EventKind::RefundRequestApproved => RefundRequestApproved {
            refund_request: REFUND,
            customer: CUSTOMER,
            partner: PARTNER,
            amount: usd(300_000),
            note: Some("partial: 3 days of use".into()),
        }
        .into(),
        EventKind::RefundRequestDeclined => RefundRequestDeclined {
            refund_request: REFUND,
            customer: CUSTOMER,
            partner: PARTNER,
            reason: "outside policy".into(),
        }
        .into(),
        EventKind::CounterOpened => crate::counter::CounterOpened {
            customer: CUSTOMER,
            partner: PARTNER,
            limit: 1000,
            expires_at: at(2026, 11, 3, 9),
        }
        .into(),
        EventKind::CounterIncremented => crate::counter::CounterIncremented {
            customer: CUSTOMER,
            by: 5,
            total: 12,
        }
        .into(),
        EventKind::CounterExpired => crate::counter::CounterExpired {
            customer: CUSTOMER,
            total: 12,
        }
        .into(),
        EventKind::CounterObserved => crate::counter::CounterObserved {
            upstream: EventId(id(0x1010)),
            upstream_outbox_seq: 17,
            customer: CUSTOMER,
            total: 12,
        }
        .into(),
        EventKind::CounterWatched => crate::counter::CounterWatched {
            customer: CUSTOMER,
            until: at(2026, 11, 3, 9),
        }
        .into(),
        EventKind::CounterWatchEnded => crate::counter::CounterWatchEnded {
            customer: CUSTOMER,
            observed: 3,
        }
        .into(),
        EventKind::EntitlementGranted => ent::EntitlementGranted {
            entitlement: EntitlementId(SUB.0),
            item: LineItem::Subscription(SUB),
            order: ORDER,
            customer: CUSTOMER,
            partner: PARTNER,
            product: product("extended-security-updates-windows-server-2012"),
            sku: sku("year-1-p1y"),
            product_name: "Extended Security Updates for Windows Server 2012".into(),
            quantity: 2,
            license_only: false,
            downloads: downloads(),
            instructions: Some("https://learn.microsoft.com/windows-server/get-started/extended-security-updates-deploy".into()),
            granted_at: at(2026, 11, 2, 9),
        }
        .into(),
        EventKind::KeysGenerated => ent::KeysGenerated {
            entitlement: EntitlementId(SUB.0),
            customer: CUSTOMER,
            partner: PARTNER,
            selection: selection(),
            key: KeyId(id(0x3001)),
            data_key: DataKeyId(id(0x3101)),
            pool: pool(),
        }
        .into(),
        EventKind::KeyAssigned => ent::KeyAssigned {
            pool: pool(),
            key: KeyId(id(0x3001)),
            entitlement: EntitlementId(SUB.0),
            remaining: 41,
        }
        .into(),
        EventKind::KeyShown => ent::KeyShown {
            entitlement: EntitlementId(SUB.0),
            customer: CUSTOMER,
            partner: PARTNER,
            product: product("windows-server-2022-datacenter"),
            product_name: "Windows Server 2022 Datacenter".into(),
            version: "Windows Server 2022".into(),
            key: KeyId(id(0x3001)),
        }
        .into(),
        EventKind::DownloadLinkIssued => ent::DownloadLinkIssued {
            entitlement: EntitlementId(SUB.0),
            customer: CUSTOMER,
            partner: PARTNER,
            product: product("windows-server-2022-datacenter"),
            product_name: "Windows Server 2022 Datacenter".into(),
            selection: selection(),
            used_for: ent::LinkUse::Copy,
            expires_at: at(2026, 11, 3, 9),
        }
        .into(),
        EventKind::EntitlementEnded => ent::EntitlementEnded {
            entitlement: EntitlementId(SUB.0),
            customer: CUSTOMER,
            partner: PARTNER,
            reason: ent::EndReason::Cancelled,
            ended_at: at(2026, 11, 4, 9),
            keys: vec![KeyId(id(0x3001))],
            data_keys: vec![DataKeyId(id(0x3101))],
        }
        .into(),
        EventKind::KeyPoolFilled => ent::KeyPoolFilled {
            pool: pool(),
            import: ImportId(id(0x3201)),
            chunk: 0,
            keys: vec![ent::SealedKey {
                key: KeyId(id(0x3001)),
                data_key: DataKeyId(id(0x3101)),
                fingerprint: [0x5F; 32],
                nonce: [7; 24],
                ciphertext: vec![0xA5; 45],
            }],
        }
        .into(),
        EventKind::KeyPoolLow => ent::KeyPoolLow {
            pool: pool(),
            remaining: 9,
            low_water: 10,
        }
        .into(),
        EventKind::DevicesImported => ent::DevicesImported {
            customer: CUSTOMER,
            import: ImportId(id(0x3202)),
            devices: vec![ent::DeviceActivation {
                device: "srv-sql-01".into(),
                last_kms_activation: at(2026, 9, 1, 12),
            }],
        }
        .into(),
        EventKind::MakDeployed => ent::MakDeployed {
            customer: CUSTOMER,
            device: "srv-sql-01".into(),
            deployed_at: at(2026, 11, 5, 10),
        }
        .into(),
        EventKind::ChargeBilled => bill::ChargeBilled {
            item: LineItem::Subscription(SubscriptionId(id(0x4001))),
            order: OrderId(id(0x4002)),
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 1,
            charge_number: 2,
            charges_in_term: 12,
            period_start: at(2026, 12, 15, 10),
            period_end: at(2027, 1, 15, 10),
            amount: usd(8_334),
            charge_type: bill::ChargeType::Installment,
        }
        .into(),
        EventKind::RefundIssued => bill::RefundIssued {
            item: LineItem::Subscription(SubscriptionId(id(0x4001))),
            order: OrderId(id(0x4002)),
            customer: CUSTOMER,
            partner: PARTNER,
            term_number: 1,
            cancelled_at: at(2026, 11, 17, 9),
            billed: usd(8_334),
            days_used: 3,
            term_days: 365,
            used: usd(822),
            refund: usd(7_512),
            charges: vec![1],
        }
        .into(),
        EventKind::CreditIssued => bill::CreditIssued {
            reason: bill::CreditReason::RefundApproved {
                refund_request: RefundRequestId(id(0x4003)),
            },
            order: None,
            customer: CUSTOMER,
            partner: PARTNER,
            amount: usd(5_000),
        }
        .into(),
        EventKind::InvoiceIssued => bill::InvoiceIssued {
            invoice: bill::InvoiceHead {
                number: "CSP-202611-0001".into(),
                partner: PARTNER,
                month: november_2026(),
                currency: Currency::USD,
                lines: 3,
                charges: usd(8_334),
                refunds: usd(7_512),
                credits: usd(5_000),
                total: usd(-4_178),
                lines_hash: "0".repeat(64),
            },
        }
        .into(),
        EventKind::MonthClosed => bill::MonthClosed {
            month: november_2026(),
            invoices: 1,
        }
        .into(),
        EventKind::CheckpointSigned => crate::audit::CheckpointSigned {
            origin: "csp-audit/sample".into(),
            size: 2,
            root: [7; 32],
            time: at(2026, 12, 1, 3),
            signature: vec![1; 68],
            leaf_hashes: vec![[3; 32], [4; 32]],
        }
        .into(),
    }
}

fn downloads() -> ent::DownloadOptions {
    ent::DownloadOptions {
        versions: vec!["Windows Server 2022".into()],
        languages: vec!["English".into(), "German".into()],
        file_types: vec!["ISO (x64)".into()],
    }
}

fn selection() -> ent::Selection {
    ent::Selection {
        version: "Windows Server 2022".into(),
        language: Some("English".into()),
        file_type: Some("ISO (x64)".into()),
    }
}

fn pool() -> ent::PoolRef {
    ent::PoolRef {
        product: product("windows-server-2022-datacenter"),
        sku: sku("16-core-p1y"),
        version: "Windows Server 2022".into(),
    }
}

/// The sample envelope of `kind`: fixed ids and times, an admin agent as actor.
pub fn sample(kind: EventKind) -> Envelope {
    let n = EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u128;
    let payload = payload(kind);
    Envelope {
        event_id: EventId(id(0x1000 + n)),
        stream: format!("sample/{}", kind.name()),
        stream_version: 1 + n as u64,
        recorded_at: at(2026, 11, 2, 9),
        effective_at: at(2026, 11, 2, 9),
        causation_id: Some(id(0x2000)),
        correlation_id: CorrelationId(id(0x2000)),
        actor: Actor {
            kind: ActorKind::Partner,
            tenant: PARTNER,
            user: "alice@partner.example".into(),
            roles: vec![Role::AdminAgent],
        },
        partner: Some(PARTNER),
        customer: Some(CUSTOMER),
        schema_version: codec::SCHEMA_VERSION,
        payload,
        outbox: Some(OutboxPosition {
            seq: 41 + n as u64,
            epoch: id(0x3000),
        }),
    }
}

/// The fixture directory of this crate.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The file of `kind`'s golden record in the current schema.
pub fn path(kind: EventKind) -> PathBuf {
    dir().join(format!("{}.bin", kind.name()))
}

/// The file of `kind`'s record as first released (`fixtures/frozen/`), written once and never
/// rewritten: a test decodes it forever, so a released shape cannot change unnoticed.
pub fn frozen_path(kind: EventKind) -> PathBuf {
    dir().join("frozen").join(format!("{}.bin", kind.name()))
}

/// The kinds whose shape a schema changed (before 1.0; after it a change is a new variant),
/// with that schema. Each keeps its record as first released (`frozen/<kind>.bin`) and gets a
/// frozen record of its new shape (`frozen/schema<N>/<kind>.bin`): both decode forever.
pub const RESHAPED: &[(u16, EventKind)] = &[
    (6, EventKind::AccessRefused),
    (6, EventKind::SubscriptionRenewed),
    (6, EventKind::SubscriptionExpired),
    (6, EventKind::AutoRenewChanged),
    (6, EventKind::SubscriptionCancelled),
    (6, EventKind::PerpetualCancelled),
    (6, EventKind::RefundRequestFiled),
    (6, EventKind::RefundRequestApproved),
    (6, EventKind::RefundRequestDeclined),
];

/// The file of `kind`'s frozen record in the shape `schema` gave it (see [`RESHAPED`]).
pub fn reshaped_path(schema: u16, kind: EventKind) -> PathBuf {
    dir()
        .join("frozen")
        .join(format!("schema{schema}"))
        .join(format!("{}.bin", kind.name()))
}

/// What a sample record of `kind` written by a build of `schema` reads as today: the sample,
/// without what later schemas added (an upcast cannot know it). The selling partner that
/// schema 6 added to purchase events is known (the envelope's), the refused item is not.
pub fn as_released(kind: EventKind, schema: u16) -> Event {
    let mut event = sample(kind).payload;
    if let (Event::AccessRefused(a), ..=5) = (&mut event, schema) {
        a.item = None;
    }
    event
}

/// A schema-5 record of `kind`'s sample, as a build of schema 5 wrote it; `None` for a kind
/// appended after schema 5 (no build of schema 5 ever wrote one).
pub fn schema5_record(kind: EventKind) -> Option<Vec<u8>> {
    use crate::codec::v5;
    let env = sample(kind);
    let old = match env.payload.clone() {
        Event::AccessRefused(x) => v5::Event::AccessRefused(v5::AccessRefused {
            service: x.service,
            action: x.action,
            customer: x.customer,
            reason: x.reason,
        }),
        Event::SubscriptionRenewed(x) => v5::Event::SubscriptionRenewed(v5::SubscriptionRenewed {
            subscription: x.subscription,
            customer: x.customer,
            term_number: x.term_number,
            term_start: x.term_start,
            term_end: x.term_end,
            billing_plan: x.billing_plan,
            term_price: x.term_price,
            cancellable_until: x.cancellable_until,
        }),
        Event::SubscriptionExpired(x) => v5::Event::SubscriptionExpired(v5::SubscriptionExpired {
            subscription: x.subscription,
            customer: x.customer,
            expired_at: x.expired_at,
        }),
        Event::AutoRenewChanged(x) => v5::Event::AutoRenewChanged(v5::AutoRenewChanged {
            subscription: x.subscription,
            customer: x.customer,
            auto_renew: x.auto_renew,
        }),
        Event::SubscriptionCancelled(x) => {
            v5::Event::SubscriptionCancelled(v5::SubscriptionCancelled {
                subscription: x.subscription,
                order: x.order,
                customer: x.customer,
                term_number: x.term_number,
                term_start: x.term_start,
                term_end: x.term_end,
                term_price: x.term_price,
                billing_plan: x.billing_plan,
                cancelled_at: x.cancelled_at,
            })
        }
        Event::PerpetualCancelled(x) => v5::Event::PerpetualCancelled(v5::PerpetualCancelled {
            purchase: x.purchase,
            order: x.order,
            customer: x.customer,
            price: x.price,
            cancelled_at: x.cancelled_at,
        }),
        Event::RefundRequestFiled(x) => v5::Event::RefundRequestFiled(v5::RefundRequestFiled {
            refund_request: x.refund_request,
            customer: x.customer,
            subject: x.subject,
            reason: x.reason,
            amount_requested: x.amount_requested,
            contact: x.contact,
            impact: x.impact,
            title: x.title,
            attachments: x.attachments,
        }),
        Event::RefundRequestApproved(x) => {
            v5::Event::RefundRequestApproved(v5::RefundRequestApproved {
                refund_request: x.refund_request,
                customer: x.customer,
                amount: x.amount,
                note: x.note,
            })
        }
        Event::RefundRequestDeclined(x) => {
            v5::Event::RefundRequestDeclined(v5::RefundRequestDeclined {
                refund_request: x.refund_request,
                customer: x.customer,
                reason: x.reason,
            })
        }
        Event::Quarantined(x) => v5::Event::Quarantined(x),
        Event::CommandRejected(x) => v5::Event::CommandRejected(x),
        Event::CustomerAdded(x) => v5::Event::CustomerAdded(x),
        Event::OrderPlaced(x) => v5::Event::OrderPlaced(x),
        Event::SubscriptionStarted(x) => v5::Event::SubscriptionStarted(x),
        Event::PerpetualPurchased(x) => v5::Event::PerpetualPurchased(x),
        Event::CounterOpened(x) => v5::Event::CounterOpened(x),
        Event::CounterIncremented(x) => v5::Event::CounterIncremented(x),
        Event::CounterExpired(x) => v5::Event::CounterExpired(x),
        Event::CounterObserved(x) => v5::Event::CounterObserved(x),
        Event::CounterWatched(x) => v5::Event::CounterWatched(x),
        Event::CounterWatchEnded(x) => v5::Event::CounterWatchEnded(x),
        Event::EntitlementGranted(_)
        | Event::KeysGenerated(_)
        | Event::KeyAssigned(_)
        | Event::KeyShown(_)
        | Event::DownloadLinkIssued(_)
        | Event::EntitlementEnded(_)
        | Event::KeyPoolFilled(_)
        | Event::KeyPoolLow(_)
        | Event::DevicesImported(_)
        | Event::MakDeployed(_)
        | Event::ChargeBilled(_)
        | Event::RefundIssued(_)
        | Event::CreditIssued(_)
        | Event::InvoiceIssued(_)
        | Event::MonthClosed(_)
        | Event::CheckpointSigned(_) => return None,
    };
    Some(v5::encode(&env, &old))
}

/// The frozen schema-1 record (a `Quarantined` before it named its producer), decoded forever.
pub fn schema1_path() -> PathBuf {
    dir().join("schema1").join("quarantined.bin")
}

/// The schema-1 sample record's bytes.
pub fn schema1_record() -> Vec<u8> {
    let env = sample(EventKind::Quarantined);
    let old = codec::v1::Event::Quarantined(codec::v1::Quarantined {
        subject: format!("csp.evt.ordering.order_placed.{PARTNER}.{CUSTOMER}"),
        reason: "malformed record: unexpected end of input".into(),
        raw: vec![1, 0xde, 0xad],
    });
    codec::v1::encode(&env, &old)
}

/// Writes every golden file. Only `cargo xtask fixtures` calls this: regenerating fixtures is a
/// deliberate act that shows up in review as changed binary files and a CHANGELOG line.
/// Frozen older-schema files are written only when missing: they are history.
pub fn write_all() -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir().join("schema1"))?;
    let mut written = Vec::new();
    for kind in EventKind::ALL {
        let p = path(*kind);
        std::fs::write(&p, codec::encode(&sample(*kind)))?;
        written.push(p);
    }
    let old = schema1_path();
    if !old.exists() {
        std::fs::write(&old, schema1_record())?;
        written.push(old);
    }
    // A kind's frozen record is written once, when the kind is new, and never again; so is
    // the record of each new shape a schema gave it.
    std::fs::create_dir_all(dir().join("frozen"))?;
    for kind in EventKind::ALL {
        let p = frozen_path(*kind);
        if !p.exists() {
            std::fs::write(&p, codec::encode(&sample(*kind)))?;
            written.push(p);
        }
    }
    for (schema, kind) in RESHAPED {
        let p = reshaped_path(*schema, *kind);
        if !p.exists() && *schema == codec::SCHEMA_VERSION {
            std::fs::create_dir_all(p.parent().unwrap_or(&dir()))?;
            std::fs::write(&p, codec::encode(&sample(*kind)))?;
            written.push(p);
        }
    }
    Ok(written)
}
