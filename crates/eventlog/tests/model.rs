//! Property: any sequence of appends (fresh ids, repeated ids, wrong versions, request ids
//! repeated with the same or another body) and reopens behaves exactly like a simple in-memory
//! model of the log's rules: the same outcome for every append, gap-free seqs, each id stored
//! once with duplicates answered by the original seq, conflicts exactly when the model says,
//! and `verify()` clean throughout.

mod common;

use std::collections::HashMap;

use common::TempDir;
use csp_eventlog::{
    AppendError, AppendOutcome, Batch, EventLog, InvalidBatch, LogOptions, NewEvent, NewRequest,
};
use proptest::prelude::*;
use uuid::Uuid;

const STREAMS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
struct EventSpec {
    /// Index into a small pool of ids, so ids repeat.
    id: u8,
    stream: usize,
    /// Added to the correct version: mostly 0, sometimes off by one.
    version_offset: i64,
    publish: bool,
}

#[derive(Debug, Clone)]
struct RequestSpec {
    tenant: u8,
    id: u8,
    body: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        events: Vec<EventSpec>,
        request: Option<RequestSpec>,
    },
    Reopen,
}

fn event_spec() -> impl Strategy<Value = EventSpec> {
    (
        0u8..24,
        0usize..STREAMS.len(),
        prop_oneof![8 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)],
        any::<bool>(),
    )
        .prop_map(|(id, stream, version_offset, publish)| EventSpec {
            id,
            stream,
            version_offset,
            publish,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let request =
        (0u8..2, 0u8..4, 0u8..2).prop_map(|(tenant, id, body)| RequestSpec { tenant, id, body });
    prop_oneof![
        10 => (prop::collection::vec(event_spec(), 0..5), prop::option::of(request))
            .prop_map(|(events, request)| Op::Append { events, request }),
        1 => Just(Op::Reopen),
    ]
}

/// The model: the log's rules, written as plainly as possible.
#[derive(Default)]
struct Model {
    /// (id, stream, version, outbox seq), index = seq - 1.
    events: Vec<(Uuid, String, u64, Option<u64>)>,
    by_id: HashMap<Uuid, u64>,
    versions: HashMap<String, u64>,
    outbox: u64,
    requests: HashMap<(Uuid, String), ModelRequest>,
}

/// A recorded request: (body hash, reply, seqs).
type ModelRequest = ([u8; 32], Vec<u8>, Vec<u64>);

/// What the model expects an append to answer.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// (seq, outbox seq, duplicate) per event.
    Appended(Vec<(u64, Option<u64>, bool)>),
    AlreadyRecorded(Vec<u8>, Vec<u64>),
    Conflict,
    IdempotencyConflict,
    Invalid,
}

impl Model {
    fn version(&self, stream: &str) -> u64 {
        self.versions.get(stream).copied().unwrap_or(0)
    }

    fn apply(&mut self, batch: &Batch) -> Expected {
        // Shape first.
        if batch.events.is_empty() && batch.request.is_none() {
            return Expected::Invalid;
        }
        let mut seen = Vec::new();
        let mut last: HashMap<&str, u64> = HashMap::new();
        for e in &batch.events {
            if e.version == 0 || seen.contains(&e.event_id) {
                return Expected::Invalid;
            }
            seen.push(e.event_id);
            if let Some(previous) = last.insert(&e.stream, e.version) {
                if e.version != previous + 1 {
                    return Expected::Invalid;
                }
            }
        }
        // Then the request record.
        if let Some(r) = &batch.request {
            if let Some((hash, reply, seqs)) = self.requests.get(&(r.tenant, r.request_id.clone()))
            {
                return if *hash == r.body_hash {
                    Expected::AlreadyRecorded(reply.clone(), seqs.clone())
                } else {
                    Expected::IdempotencyConflict
                };
            }
        }
        // Then each event: duplicate, or the next version of its stream.
        let mut running: HashMap<&str, u64> = HashMap::new();
        for e in &batch.events {
            if self.by_id.contains_key(&e.event_id) {
                continue;
            }
            let current = running
                .get(e.stream.as_str())
                .copied()
                .unwrap_or_else(|| self.version(&e.stream));
            if e.version != current + 1 {
                return Expected::Conflict;
            }
            running.insert(&e.stream, e.version);
        }
        // Accepted.
        let mut positions = Vec::new();
        for e in &batch.events {
            if let Some(&seq) = self.by_id.get(&e.event_id) {
                positions.push((seq, self.events[seq as usize - 1].3, true));
                continue;
            }
            let seq = self.events.len() as u64 + 1;
            let outbox = e.publish.then(|| {
                self.outbox += 1;
                self.outbox
            });
            self.events
                .push((e.event_id, e.stream.clone(), e.version, outbox));
            self.by_id.insert(e.event_id, seq);
            self.versions.insert(e.stream.clone(), e.version);
            positions.push((seq, outbox, false));
        }
        if let Some(r) = &batch.request {
            let seqs = positions.iter().map(|p| p.0).collect();
            self.requests.insert(
                (r.tenant, r.request_id.clone()),
                (r.body_hash, r.reply.clone(), seqs),
            );
        }
        Expected::Appended(positions)
    }
}

fn observed(outcome: Result<AppendOutcome, AppendError>) -> Expected {
    match outcome {
        Ok(AppendOutcome::Appended { positions }) => Expected::Appended(
            positions
                .iter()
                .map(|p| (p.seq, p.outbox_seq, p.duplicate))
                .collect(),
        ),
        Ok(AppendOutcome::AlreadyRecorded(record)) => {
            Expected::AlreadyRecorded(record.reply, record.seqs)
        }
        Err(AppendError::Conflict { .. }) => Expected::Conflict,
        Err(AppendError::IdempotencyConflict { .. }) => Expected::IdempotencyConflict,
        Err(AppendError::Invalid(
            InvalidBatch::Empty
            | InvalidBatch::ZeroVersion { .. }
            | InvalidBatch::DuplicateEventId { .. }
            | InvalidBatch::NonContiguousVersions { .. },
        )) => Expected::Invalid,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Turns specs into a batch, choosing versions from the model so most are right.
fn build(model: &Model, events: &[EventSpec], request: &Option<RequestSpec>) -> Batch {
    let mut in_batch: HashMap<usize, u64> = HashMap::new();
    let events = events
        .iter()
        .map(|spec| {
            let stream = STREAMS[spec.stream];
            let k = in_batch.entry(spec.stream).or_insert(0);
            *k += 1;
            let version = (model.version(stream) + *k).saturating_add_signed(spec.version_offset);
            NewEvent {
                event_id: Uuid::from_u128(u128::from(spec.id) + 1),
                stream: stream.to_owned(),
                version,
                publish: spec.publish,
                bytes: vec![1, spec.id],
            }
        })
        .collect();
    let request = request.as_ref().map(|r| NewRequest {
        tenant: Uuid::from_u128(u128::from(r.tenant) + 100),
        request_id: format!("req-{}", r.id),
        body_hash: [r.body; 32],
        reply: format!("reply-{}-{}", r.id, r.body).into_bytes(),
    });
    Batch { events, request }
}

fn check_log_matches(log: &EventLog, model: &Model) -> Result<(), TestCaseError> {
    let stored: Vec<(Uuid, String, u64, Option<u64>)> = log
        .read_from(1)
        .enumerate()
        .map(|(i, r)| {
            let r = r.expect("decodes");
            assert_eq!(r.seq, i as u64 + 1, "seqs are gap-free from 1");
            (r.event_id, r.stream().to_owned(), r.version, r.outbox_seq)
        })
        .collect();
    prop_assert_eq!(&stored, &model.events);
    prop_assert_eq!(log.last_seq(), model.events.len() as u64);
    prop_assert_eq!(log.last_outbox_seq(), model.outbox);
    let report = log.verify().expect("verify runs");
    prop_assert!(report.is_clean(), "verify: {:?}", report.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_the_model(ops in prop::collection::vec(op(), 1..32)) {
        let dir = TempDir::new("model");
        let mut log = EventLog::open(dir.path(), LogOptions::default()).expect("opens");
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Append { events, request } => {
                    let batch = build(&model, events, request);
                    let expected = model.apply(&batch);
                    let got = observed(log.append_blocking(batch.clone()));
                    prop_assert_eq!(got, expected, "batch {:?}", batch);
                }
                Op::Reopen => {
                    drop(log);
                    log = EventLog::open(dir.path(), LogOptions::default()).expect("reopens");
                    check_log_matches(&log, &model)?;
                }
            }
        }
        check_log_matches(&log, &model)?;
    }
}
