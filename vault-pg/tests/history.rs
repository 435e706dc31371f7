//! Satellite history on a real PostgreSQL, as a property: for random value sequences per parent
//! (A/B/C, with repeats), sent with duplicates and stale copies, shuffled, in random batches,
//! the `_periods` view holds exactly the runs of each sequence by effective time, `_current`
//! the last run's value, `_at(T)` the value in force at T; and loading everything again writes
//! no row.

mod common;

use std::collections::BTreeMap;

use common::TestDb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vault_core::{data_vault, DvRow, KeySpec, RowSet, Timestamp};

data_vault! {
    /// Things and their state: the smallest model with a historized satellite.
    pub struct ThingRows<'a> {
        model: "things", schema: "thing", load_src: "history-test";
        hubs {
            /// A thing.
            h_thing: HThing<'a> { h_thing_pk; thing_id: &'a str }
        }
        links {}
        satellites {
            /// Its state, from the source's time.
            s_thing_state: SThingState<'a> {
                hk_thing_state_pk; h_thing_pk -> h_thing; state: &'a str; effective at
            }
        }
    }
}

const KEYS: KeySpec = KeySpec::SEED;
const THINGS: [&str; 3] = ["t0", "t1", "t2"];
const VALUES: [&str; 3] = ["A", "B", "C"];

/// Minute `m` of a fixed day.
fn minute(m: i64) -> Timestamp {
    Timestamp::parse("2024-05-01 00:00:00")
        .expect("timestamp")
        .plus(chrono::Duration::minutes(m))
}

/// One observation: thing, value, effective minute.
type Observation = (usize, usize, i64);

/// Per thing a sequence of values at increasing minutes; then every observation once, some
/// twice or thrice (duplicates, stale copies sent again later), shuffled, cut into batches.
fn arrivals() -> impl Strategy<Value = (Vec<Observation>, Vec<Vec<Observation>>)> {
    let sequence = prop::collection::vec((0..VALUES.len(), 1..30_i64), 1..10).prop_map(|steps| {
        let mut at = 0;
        steps
            .into_iter()
            .map(|(value, gap)| {
                at += gap;
                (value, at)
            })
            .collect::<Vec<_>>()
    });
    prop::collection::vec(sequence, THINGS.len())
        .prop_flat_map(|sequences| {
            let truth: Vec<Observation> = sequences
                .iter()
                .enumerate()
                .flat_map(|(thing, seq)| seq.iter().map(move |&(value, at)| (thing, value, at)))
                .collect();
            let n = truth.len();
            (
                Just(truth),
                prop::collection::vec(0..n, 0..n + 1),
                prop::collection::vec(any::<u8>(), n * 3),
            )
        })
        .prop_flat_map(|(truth, again, cuts)| {
            let mut sent = truth.clone();
            sent.extend(again.iter().map(|&i| truth[i]));
            let shuffled = Just(sent).prop_shuffle();
            (Just(truth), shuffled, Just(cuts))
        })
        .prop_map(|(truth, sent, cuts)| {
            // Cut the arrivals into batches where `cuts` says so (about one in four).
            let mut batches = vec![Vec::new()];
            for (i, observation) in sent.into_iter().enumerate() {
                if i > 0 && cuts[i % cuts.len()] < 64 {
                    batches.push(Vec::new());
                }
                if let Some(batch) = batches.last_mut() {
                    batch.push(observation);
                }
            }
            (truth, batches)
        })
}

fn rows_of(batch: &[Observation]) -> ThingRows<'static> {
    let mut rows = ThingRows::default();
    for &(thing, value, at) in batch {
        let id = THINGS[thing];
        rows.h_thing.push(HThing {
            h_thing_pk: KEYS.hub(id),
            thing_id: id,
        });
        rows.s_thing_state.push(
            SThingState {
                hk_thing_state_pk: Default::default(),
                h_thing_pk: KEYS.hub(id),
                state: VALUES[value],
                at: minute(at),
            }
            .with_hashdiff(&KEYS, id),
        );
    }
    rows
}

/// Loads each batch in a transaction of its own; the rows written.
fn load(db: &TestDb, batches: &[Vec<Observation>]) -> u64 {
    let mut client = db.client();
    let mut written = 0;
    for batch in batches {
        let mut tx = client.transaction().expect("begin");
        written += vault_pg::model::write(&mut tx, &rows_of(batch)).expect("write");
        tx.commit().expect("commit");
    }
    written
}

/// Per thing, the runs of its sequence: (value, from, until) by effective time.
fn runs(truth: &[Observation]) -> BTreeMap<String, Vec<(String, String, Option<String>)>> {
    let mut by_thing: BTreeMap<usize, Vec<(usize, i64)>> = BTreeMap::new();
    for &(thing, value, at) in truth {
        by_thing.entry(thing).or_default().push((value, at));
    }
    let mut out = BTreeMap::new();
    for (thing, mut seq) in by_thing {
        seq.sort_by_key(|&(_, at)| at);
        let mut starts: Vec<(usize, i64)> = Vec::new();
        for (value, at) in seq {
            if starts.last().map(|&(v, _)| v) != Some(value) {
                starts.push((value, at));
            }
        }
        let periods = starts
            .iter()
            .enumerate()
            .map(|(i, &(value, at))| {
                (
                    VALUES[value].to_owned(),
                    minute(at).to_string(),
                    starts.get(i + 1).map(|&(_, next)| minute(next).to_string()),
                )
            })
            .collect();
        out.insert(THINGS[thing].to_owned(), periods);
    }
    out
}

fn loaded_periods(db: &TestDb) -> BTreeMap<String, Vec<(String, String, Option<String>)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for row in db
        .client()
        .query(
            "SELECT h.thing_id, p.state, p.valid_from::text, p.valid_to::text \
             FROM thing.s_thing_state_periods p JOIN thing.h_thing h USING (h_thing_pk) \
             ORDER BY h.thing_id, p.valid_from",
            &[],
        )
        .expect("periods")
    {
        out.entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2), row.get(3)));
    }
    out
}

/// Per thing, the state `_at(T)` gives (`None`: no period began by then).
fn states_at(db: &TestDb, at: Timestamp) -> BTreeMap<String, String> {
    db.client()
        .query(
            "SELECT h.thing_id, a.state FROM thing.s_thing_state_at($1) a \
             JOIN thing.h_thing h USING (h_thing_pk)",
            &[&at.naive()],
        )
        .expect("as of")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// What the truth says is in force at minute `m` for each thing.
fn truth_at(truth: &[Observation], m: i64) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, (i64, &str)> = BTreeMap::new();
    for &(thing, value, at) in truth {
        if at <= m {
            let entry = out
                .entry(THINGS[thing].to_owned())
                .or_insert((at, VALUES[value]));
            if at >= entry.0 {
                *entry = (at, VALUES[value]);
            }
        }
    }
    out.into_iter()
        .map(|(k, (_, v))| (k, v.to_owned()))
        .collect()
}

#[test]
fn periods_are_the_runs_of_each_sequence_whatever_the_arrival() {
    let db = TestDb::empty("history_props");
    vault_pg::model::create(&mut *db.client(), &ThingRows::MODEL).expect("apply the DDL");
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&arrivals(), |(truth, batches)| {
            db.client()
                .batch_execute("TRUNCATE thing.s_thing_state, thing.h_thing")
                .expect("truncate");
            load(&db, &batches);
            let expected = runs(&truth);
            prop_assert_eq!(loaded_periods(&db), expected.clone());
            let current: BTreeMap<String, String> = db
                .client()
                .query(
                    "SELECT h.thing_id, c.state FROM thing.s_thing_state_current c \
                     JOIN thing.h_thing h USING (h_thing_pk)",
                    &[],
                )
                .expect("current")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let last: BTreeMap<String, String> = expected
                .iter()
                .filter_map(|(thing, p)| p.last().map(|(v, _, _)| (thing.clone(), v.clone())))
                .collect();
            prop_assert_eq!(current, last);
            // As of every observation's minute and the minute before it.
            for &(_, _, at) in &truth {
                for m in [at - 1, at] {
                    prop_assert_eq!(states_at(&db, minute(m)), truth_at(&truth, m), "at {}", m);
                }
            }
            // The distinct observations are stored, each once; everything again writes none.
            let distinct: std::collections::BTreeSet<_> = truth.iter().collect();
            let stored = db.scalar("SELECT count(*) FROM thing.s_thing_state");
            prop_assert_eq!(stored, distinct.len() as i64);
            let again = load(&db, &batches);
            prop_assert_eq!(again, 0, "a replay writes nothing");
            Ok::<(), TestCaseError>(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
