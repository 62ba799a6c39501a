//! Reads: the whole log from a seq, one stream, the outbox.

use super::*;

fn three_streams() -> Given {
    given(vec![
        batch(vec![ev(1, "a", 1), pub_ev(2, "b", 1)]),
        batch(vec![pub_ev(3, "a", 2), ev(4, "c", 1)]),
        batch(vec![ev(5, "a", 3), pub_ev(6, "b", 2)]),
    ])
}

fn ids(records: crate::Records) -> Vec<u128> {
    records
        .map(|r| r.expect("decodes").event_id.as_u128())
        .collect()
}

#[test]
fn read_from_yields_every_event_from_a_seq_in_order() {
    let g = three_streams();
    assert_eq!(ids(g.log.read_from(1)), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(ids(g.log.read_from(0)), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(ids(g.log.read_from(4)), vec![4, 5, 6]);
    assert_eq!(ids(g.log.read_from(7)), Vec::<u128>::new());
}

#[test]
fn read_stream_yields_one_stream_in_version_order() {
    let g = three_streams();
    let records: Vec<(u64, u64)> = g
        .log
        .read_stream("a")
        .map(|r| r.map(|r| (r.version, r.seq)).expect("decodes"))
        .collect();
    assert_eq!(records, vec![(1, 1), (2, 3), (3, 5)]);
    assert_eq!(ids(g.log.read_stream("nope")), Vec::<u128>::new());
    // "a" is a prefix of no other stream here, but a longer name must not leak into it.
    let g2 = given(vec![batch(vec![ev(1, "a", 1), ev(2, "ab", 1)])]);
    assert_eq!(ids(g2.log.read_stream("a")), vec![1]);
}

#[test]
fn read_outbox_from_yields_only_published_events_with_their_outbox_seq() {
    let g = three_streams();
    let outbox: Vec<(Option<u64>, u128)> = g
        .log
        .read_outbox_from(1)
        .map(|r| {
            r.map(|r| (r.outbox_seq, r.event_id.as_u128()))
                .expect("decodes")
        })
        .collect();
    assert_eq!(outbox, vec![(Some(1), 2), (Some(2), 3), (Some(3), 6)]);
    assert_eq!(ids(g.log.read_outbox_from(3)), vec![6]);
    assert_eq!(ids(g.log.read_outbox_from(4)), Vec::<u128>::new());
}

#[test]
fn stream_version_is_the_last_version_or_0() {
    let g = three_streams();
    assert_eq!(g.log.stream_version("a").expect("reads"), 3);
    assert_eq!(g.log.stream_version("c").expect("reads"), 1);
    assert_eq!(g.log.stream_version("none").expect("reads"), 0);
}

#[test]
fn an_empty_log_reads_as_empty() {
    let g = given(vec![]);
    assert_eq!(g.log.read_from(1).count(), 0);
    assert_eq!(g.log.read_outbox_from(1).count(), 0);
    assert_eq!(g.log.read_stream("a").count(), 0);
    g.assert_verified();
}
