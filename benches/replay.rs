//! The statement ceiling of a stage (issue 30, target 1): the warehouse work of its batches
//! alone. The messages the stage read are decoded (and DDS's rows built) beforehand; then each
//! batch — the same size as the stage's batches, one transaction — runs the same statements the
//! stage runs inside its batch (`vault_pg::stg::upsert`, `vault_pg::model::write_skipping_known`
//! with a known-key cache as large as the service's, `vault_pg::cdm::apply`) into a fresh
//! migrated database, and commits. No Kafka, no Redis, no positions, no acknowledgements: what is
//! left out is the streaming machinery whose cost the stage's drain ÷ this ceiling shows.
//!
//! With N replicas, N sessions replay at once, each the batches of the partitions a replica
//! would own (partition p to replica p mod N), partition after partition — where a stage's
//! batches mix its partitions as their messages arrive.

use std::time::{Duration, Instant};

use vault_core::orders::{raw_payload, vault_batch, EnrichedOrder, OrderReport, SourceOrder};
use vault_core::KeySpec;
use vault_pg::model::KnownKeys;
use vault_pg::stg::StgEvent;
use vault_services::stages::dds::KNOWN_KEYS;
use vault_testkit::kafka::Record;
use vault_testkit::pipeline::Kind;
use vault_testkit::TestDb;

/// Replays `stage`'s warehouse statements over `records` (what it read), `batch` messages a
/// transaction, `replicas` sessions at once, into `db`: the wall time from the first `BEGIN` to
/// the last commit, the messages replayed, and the time the sessions spent in `COMMIT`
/// (summed).
pub(crate) fn replay(
    stage: Kind,
    records: &[Record],
    batch: usize,
    replicas: usize,
    db: &TestDb,
) -> (Duration, usize, Duration) {
    let batch = batch.max(1);
    let shares: Vec<Vec<&[u8]>> = (0..replicas)
        .map(|r| {
            let mut mine: Vec<&Record> = records
                .iter()
                .filter(|m| m.partition as usize % replicas == r)
                .collect();
            // Partition by partition, each in offset order: a consumer's order per partition.
            mine.sort_by_key(|m| (m.partition, m.offset));
            mine.into_iter().map(|m| &m.payload[..]).collect()
        })
        .collect();
    // Every session's connection is taken first: one that cannot be had fails here, before
    // any session waits at the barrier for it.
    let clients: Vec<_> = shares.iter().map(|_| db.client()).collect();
    let barrier = std::sync::Barrier::new(replicas);
    let took: Vec<(Duration, usize, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .zip(clients)
            .map(|(share, mut client)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut session = Session::decode(stage, share, batch);
                    barrier.wait();
                    let started = Instant::now();
                    let (replayed, committing) = session.run(&mut client);
                    (started.elapsed(), replayed, committing)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replay session"))
            .collect()
    });
    let wall = took.iter().map(|t| t.0).max().unwrap_or_default();
    (
        wall,
        took.iter().map(|t| t.1).sum(),
        took.iter().map(|t| t.2).sum(),
    )
}

/// One session's decoded batches.
enum Session<'a> {
    Stg(Vec<Vec<(SourceOrder, &'a str)>>),
    Dds(Vec<Vec<EnrichedOrder>>),
    Cdm(Vec<Vec<OrderReport>>),
}

impl<'a> Session<'a> {
    /// Decodes `payloads` as `stage` does and cuts them into batches; what does not decode (a
    /// dead letter of the stage's) is left out.
    fn decode(stage: Kind, payloads: &[&'a [u8]], batch: usize) -> Self {
        /// What decodes, in batches of `batch`.
        fn cut<'p, T>(
            payloads: &[&'p [u8]],
            decode: impl Fn(&'p [u8]) -> Option<T>,
            batch: usize,
        ) -> Vec<Vec<T>> {
            let mut batches = Vec::new();
            let mut items = payloads.iter().filter_map(|p| decode(p)).peekable();
            while items.peek().is_some() {
                batches.push(items.by_ref().take(batch).collect());
            }
            batches
        }
        match stage {
            Kind::Stg => Session::Stg(cut(
                payloads,
                |p| Some((SourceOrder::from_json(p).ok()?, raw_payload(p).ok()?)),
                batch,
            )),
            Kind::Dds => Session::Dds(cut(payloads, |p| EnrichedOrder::from_json(p).ok(), batch)),
            Kind::Cdm => Session::Cdm(cut(payloads, |p| OrderReport::from_json(p).ok(), batch)),
        }
    }

    /// Every batch in its own transaction; the messages replayed.
    fn run(&mut self, client: &mut postgres::Client) -> (usize, Duration) {
        let mut replayed = 0;
        let mut committing = Duration::ZERO;
        let mut commit = |tx: postgres::Transaction<'_>| {
            let t = Instant::now();
            tx.commit().expect("commit");
            committing += t.elapsed();
        };
        match self {
            Session::Stg(batches) => {
                for batch in batches.iter() {
                    let events: Vec<StgEvent<'_>> = batch
                        .iter()
                        .map(|(order, payload)| StgEvent::new(order, payload))
                        .collect();
                    let mut tx = client.transaction().expect("begin");
                    vault_pg::stg::upsert(&mut tx, &events).expect("stg upsert");
                    commit(tx);
                    replayed += batch.len();
                }
            }
            Session::Dds(batches) => {
                // The rows are built inside the timed loop, as the stage builds them inside
                // its batch (a few µs an order on vault-core's bench; they borrow from it).
                let mut known = KnownKeys::new(KNOWN_KEYS);
                let sent = vault_services::clock::sent_dttm();
                for batch in batches.iter() {
                    let (rows, _reports) = vault_batch(KeySpec::SEED, batch, sent);
                    let mut tx = client.transaction().expect("begin");
                    vault_pg::model::write_skipping_known(&mut tx, rows.rows(), &mut known)
                        .expect("dds write");
                    commit(tx);
                    known.committed();
                    replayed += batch.len();
                }
            }
            Session::Cdm(batches) => {
                for batch in batches.iter() {
                    let mut tx = client.transaction().expect("begin");
                    vault_pg::cdm::apply(&mut tx, batch).expect("cdm apply");
                    commit(tx);
                    replayed += batch.len();
                }
            }
        }
        (replayed, committing)
    }
}
