"""The pipeline measured from outside, as a user would measure it (issue 30).

    eval "$(scripts/stack env)"
    benches/outside/run [ORDERS] [--runs N] [--partitions P] [--linger-ms MS]
        [--users U] [--restaurants R] [--orders-file FILE] [--keep-db]
        [--trickle N [--interval S | --rate R] [--trickle-poll-ms MS]] [--service-env K=V]…

Per run, on the servers of `scripts/stack`, with nothing of the bench's own machinery:

1. a fresh database (not migrated: the services migrate it at start, as in a first install) and
   fresh topics with P partitions each (default 3): source, STG's and DDS's outputs, one
   dead-letter topic per stage;
2. ORDERS orders (default 100,000) from `vault simulate --out` (the bench's generator and
   dictionaries, loaded into Redis; U users and R restaurants, default 500 and 8, as the
   bench), produced by a plain Python producer (confluent-kafka, `linger.ms` 5 unless
   --linger-ms) before any service runs. With --orders-file, the orders of FILE instead (the
   same JSON lines: `key`, `value`; their dictionaries already in Redis);
3. the three release binaries started as processes, each with its defaults and only the
   variables a deployment sets (connection, topics, group, HTTP port);
4. `sum(order_cnt)` of `cdm.restaurant_category_counters` polled every 0.2 s, from the services'
   start until it reaches its final value (the orders are all in `cdm.order_ledger` and the sum
   has not moved for a second); that final value is checked against the recomputation from the
   Data Vault (`cdm.v_restaurant_category_counters_recomputed`).

It prints, per run, the produce time, the drain (services' start to the final sum), the time to
the first counter, each service's CPU seconds and peak RSS, the seconds each spent inside its
batches (`vault_batch_duration_seconds`: a stage that is busy for much less than the drain
waits for its input, and is not what sets the pace), and the median drain over the runs.

With --trickle N, steps 2-4 are instead: the services started first; then N + 1 orders, one
every S seconds (default 0.5), each produced and flushed alone; per order (the first, which
meets the services' start, is not timed) the time from its acknowledgement to the moment a
poll of `count(*)` on `cdm.order_ledger` every MS milliseconds (default 5) sees it committed;
p50, p99 and max, and each service's CPU over the trickle in % of one core. With --rate R
instead of --interval, N orders (the first message of each) are produced at R per second without waiting for one another
(a paced producer, `linger.ms` as above), and a poll every MS milliseconds looks the
acknowledged, unseen orders up in `cdm.order_ledger` (joined to `dds.h_order` for their ids):
the same latency, under load.

--service-env K=V (repeatable) adds a variable to every service's environment (a setting
under test, such as `DDS_KNOWN_KEYS=0`).

The database, topics and consumer groups are removed at the end unless --keep-db; the
dictionaries stay in Redis (the same keys every run).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
POLL_S = 0.2
SETTLED_S = 1.0
STAGES = ("stg", "dds", "cdm")


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"outside: {name} is not set (eval \"$(scripts/stack env)\")")
    return value


def pg_url(dbname):
    return (
        f"host={env('PG_WAREHOUSE_HOST')} port={env('PG_WAREHOUSE_PORT')} "
        f"user={env('PG_WAREHOUSE_USER')} password={os.environ.get('PG_WAREHOUSE_PASSWORD', '')} "
        f"dbname={dbname}"
    )


def proc_stats(pid):
    """(CPU seconds, peak RSS MiB) of a live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
        return cpu, rss
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def message(record):
    """(key, value) bytes of one line of `vault simulate --out`."""
    value = record.get("value")
    value = value.encode() if value is not None else bytes(record["value_bytes"])
    key = record["key"].encode() if record["key"] is not None else None
    return key, value


def send(producer, topic, key, value, on_delivery=None):
    """Hands one message to the producer, serving its deliveries while its queue is full."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


def keyed_orders(path):
    """The (key, value) of every keyed message (an order's) of a `vault simulate --out` file."""
    with open(path, encoding="utf-8") as lines:
        return [message(r) for r in map(json.loads, lines) if r["key"] is not None]


def produce(bootstrap, topic, path, linger_ms):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms})
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    sent = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            key, value = message(json.loads(line))
            send(producer, topic, key, value, delivered)
            producer.poll(0)
            sent += 1
    producer.flush()
    if failed:
        sys.exit(f"outside: {len(failed)} messages not delivered: {failed[0]}")
    return sent


class Pipeline:
    """One run's fresh database and topics, and the three services once started."""

    def __init__(self, args, run):
        self.args = args
        self.tag = tag = f"outside_{os.getpid()}_{run}"
        self.bootstrap = env("KAFKA_BOOTSTRAP")
        self.topics = {"source": f"{tag}.orders", "stg": f"{tag}.stg-orders", "dds": f"{tag}.dds-orders"}
        self.dlqs = {stage: f"{tag}.{stage}.dlq" for stage in STAGES}
        self.names = list(self.topics.values()) + list(self.dlqs.values())
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in self.admin.create_topics(
            [NewTopic(name, args.partitions, 1) for name in self.names]
        ).values():
            future.result()
        with psycopg.connect(pg_url(env("PG_WAREHOUSE_DBNAME")), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{tag}"')
        self.services = {}
        self.logs = Path(tempfile.mkdtemp(prefix=f"{tag}-"))

    def start(self):
        """Starts the three release binaries with their defaults; returns the start time."""
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KAFKA_HOST": env("KAFKA_HOST"),
            "KAFKA_PORT": env("KAFKA_PORT"),
            **{k: v for k, v in os.environ.items() if k.startswith("PG_WAREHOUSE_")},
            "PG_WAREHOUSE_DBNAME": self.tag,
            **dict(kv.split("=", 1) for kv in self.args.service_env),
        }
        t = self.topics
        sources = {"stg": t["source"], "dds": t["stg"], "cdm": t["dds"]}
        outputs = {"stg": t["stg"], "dds": t["dds"]}
        started = time.monotonic()
        for i, stage in enumerate(STAGES):
            service_env = dict(base)
            service_env.update(
                KAFKA_SOURCE_TOPIC=sources[stage],
                KAFKA_DLQ_TOPIC=self.dlqs[stage],
                KAFKA_CONSUMER_GROUP=f"{self.tag}-{stage}",
                HTTP_PORT=str(self.args.http_port + i),
            )
            if stage in outputs:
                service_env["KAFKA_DESTINATION_TOPIC"] = outputs[stage]
            if stage == "stg":
                service_env.update({k: v for k, v in os.environ.items() if k.startswith("REDIS_")})
            log = open(self.logs / f"{stage}.log", "wb")
            self.services[stage] = subprocess.Popen(
                [str(RELEASE / f"{stage}-service")], env=service_env, stdout=log, stderr=log
            )
        return started

    def check_alive(self):
        for stage, p in self.services.items():
            if p.poll() is not None:
                sys.exit(f"outside: {stage}-service exited ({p.returncode}); logs in {self.logs}")

    def stats(self):
        return {stage: proc_stats(p.pid) for stage, p in self.services.items()}

    def busy(self):
        """Seconds each service spent inside its batches (transaction to offset commit), from
        its /metrics."""
        busy = {}
        for i, stage in enumerate(STAGES):
            url = f"http://127.0.0.1:{self.args.http_port + i}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    text = answer.read().decode()
            except OSError:
                busy[stage] = float("nan")
                continue
            busy[stage] = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("vault_batch_duration_seconds_sum")
            )
        return busy

    def close(self):
        for p in self.services.values():
            p.send_signal(signal.SIGTERM)
        for p in self.services.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if not self.args.keep_db:
            with psycopg.connect(pg_url(env("PG_WAREHOUSE_DBNAME")), autocommit=True) as c:
                c.execute(f'DROP DATABASE "{self.tag}" WITH (FORCE)')
            for future in self.admin.delete_topics(self.names).values():
                future.result()
            self.admin.delete_consumer_groups([f"{self.tag}-{s}" for s in STAGES])


def sample(c, query):
    try:
        return c.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return None  # not migrated yet


def backlog_run(args, run, generated, sent_orders):
    """The backlog produced first, then the services started: the drain."""
    pipeline = Pipeline(args, run)
    try:
        started = time.monotonic()
        produced = produce(pipeline.bootstrap, pipeline.topics["source"], generated, args.linger_ms)
        produce_s = time.monotonic() - started
        started = pipeline.start()
        timeline = []
        with psycopg.connect(pg_url(pipeline.tag), autocommit=True) as c:
            while True:
                now = time.monotonic() - started
                total, ledger = sample(
                    c,
                    "SELECT (SELECT coalesce(sum(order_cnt), 0) FROM cdm.restaurant_category_counters),"
                    " (SELECT count(*) FROM cdm.order_ledger)",
                ) or (0, 0)
                timeline.append((now, int(total), int(ledger)))
                settled = [t for t in timeline if t[0] >= now - SETTLED_S]
                if ledger >= sent_orders and len({t[1] for t in settled}) == 1 and now > SETTLED_S:
                    break
                pipeline.check_alive()
                if now > args.timeout:
                    sys.exit(f"outside: not drained after {args.timeout} s ({ledger} orders in the ledger); logs in {pipeline.logs}")
                time.sleep(max(0.0, POLL_S - (time.monotonic() - started - now)))
            # Fresh statistics first, as `vault check` takes them: without them the plan of the
            # recomputation over a just-loaded warehouse can take minutes (not timed).
            c.execute("ANALYZE")
            (recomputed,) = c.execute(
                "SELECT coalesce(sum(order_cnt), 0) FROM cdm.v_restaurant_category_counters_recomputed"
            ).fetchone()
        stats = pipeline.stats()
        busy = pipeline.busy()
    finally:
        pipeline.close()
    final = timeline[-1][1]
    drain = next(t for t, total, _ in timeline if total == final)
    first = next((t for t, total, _ in timeline if total > 0), None)
    exact = int(recomputed) == final
    print(
        f"run {run}: produced {produced} messages in {produce_s:.1f} s; drain {drain:.1f} s "
        f"({sent_orders / drain:,.0f} orders/s), first counter at {first:.1f} s, "
        f"sum(order_cnt) {final} = recomputation: {exact}"
    )
    print(
        "       CPU s / peak RSS MiB: "
        + ", ".join(f"{s} {stats[s][0]:.1f} / {stats[s][1]:.1f}" for s in STAGES)
        + f"; logs in {pipeline.logs}"
    )
    print(
        "       inside batches s (share of the drain): "
        + ", ".join(f"{s} {busy[s]:.1f} ({100 * busy[s] / drain:.0f} %)" for s in STAGES)
    )
    if not exact:
        sys.exit("outside: the counters differ from their recomputation")
    return drain


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def trickle_run(args, run, generated):
    """The services started and idle, then one order every --interval seconds: per order, its
    producer's acknowledgement to the moment a poll every --trickle-poll-ms sees it in the
    ledger (committed); and the services' CPU over the trickle."""
    pipeline = Pipeline(args, run)
    latencies = []
    try:
        pipeline.start()
        producer = Producer({"bootstrap.servers": pipeline.bootstrap, "linger.ms": args.linger_ms})
        # Orders only (keyed): each one timed must reach the ledger.
        records = keyed_orders(generated)
        poll_s = args.trickle_poll_ms / 1000
        with psycopg.connect(pg_url(pipeline.tag), autocommit=True) as c:
            # The first order waits for the services' start; it is not timed.
            seen = 0
            cpu_before = None
            for i, (key, value) in enumerate(records[: args.trickle + 1]):
                due = time.monotonic() + args.interval
                acked = []
                producer.produce(
                    pipeline.topics["source"],
                    value=value,
                    key=key,
                    on_delivery=lambda err, _m: acked.append((err, time.monotonic())),
                )
                producer.flush()
                err, ack = acked[0]
                if err is not None:
                    sys.exit(f"outside: not delivered: {err}")
                deadline = ack + (args.timeout if i == 0 else 10.0)
                while True:
                    row = sample(c, "SELECT count(*) FROM cdm.order_ledger")
                    if row and row[0] > seen:
                        visible = time.monotonic()
                        seen = row[0]
                        break
                    if time.monotonic() > deadline:
                        sys.exit(f"outside: order {i} not visible after {deadline - ack:.0f} s; logs in {pipeline.logs}")
                    pipeline.check_alive()
                    time.sleep(poll_s)
                if i == 0:
                    cpu_before, started = pipeline.stats(), time.monotonic()
                else:
                    latencies.append((visible - ack) * 1000)
                time.sleep(max(0.0, due - time.monotonic()))
        cpu_after, elapsed = pipeline.stats(), time.monotonic() - started
    finally:
        pipeline.close()
    return report_latencies(
        f"run {run}: {len(latencies)} orders, one every {args.interval} s",
        args, latencies, cpu_before, cpu_after, elapsed, rss=False,
    )


def report_latencies(what, args, latencies, cpu_before, cpu_after, elapsed, rss):
    """Prints the latencies' p50, p99 and max and the services' CPU (and peak RSS) over
    `elapsed` seconds; returns the p99."""
    cpu = {s: 100 * (cpu_after[s][0] - cpu_before[s][0]) / elapsed for s in STAGES}
    print(
        f"{what}: acknowledged → visible "
        f"p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms (polled every {args.trickle_poll_ms} ms); CPU "
        + ", ".join(f"{s} {cpu[s]:.2f} %" for s in STAGES)
        + ("; peak RSS MiB " + ", ".join(f"{s} {cpu_after[s][1]:.1f}" for s in STAGES) if rss else "")
    )
    return percentile(latencies, 0.99)


def key_value(text):
    """`K=V`, for --service-env."""
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected K=V, got {text!r}")
    return text


def rate_run(args, run, generated):
    """The services started and idle, then --trickle orders at --rate per second: per order, its
    acknowledgement to the first poll that finds it committed in the ledger."""
    pipeline = Pipeline(args, run)
    acked, seen, failed = {}, {}, []
    thread = None
    lock = threading.Lock()
    done = threading.Event()
    poll_s = args.trickle_poll_ms / 1000

    def poller():
        # A poll's time is taken when its query is sent: an order it finds was committed by then.
        c = None
        while not done.is_set():
            with lock:
                pending = [k for k in acked if k not in seen]
            if pending:
                at = time.monotonic()
                try:
                    c = c or psycopg.connect(pg_url(pipeline.tag), autocommit=True)
                    rows = c.execute(
                        "SELECT h.order_id FROM cdm.order_ledger l "
                        "JOIN dds.h_order h ON h.h_order_pk = l.order_id "
                        "WHERE h.order_id = ANY(%s)",
                        (pending,),
                    ).fetchall()
                except psycopg.errors.UndefinedTable:
                    rows = []  # not migrated yet
                except psycopg.Error as e:
                    print(f"outside: poll failed, retrying: {e}", file=sys.stderr)
                    c, rows = None, []
                with lock:
                    for (order_id,) in rows:
                        seen.setdefault(int(order_id), at)
            time.sleep(poll_s)
        if c is not None:
            c.close()

    def wait_seen(keys, seconds, since):
        """Until the poller has seen every order of `keys` (the services alive, the poller too)."""
        deadline = time.monotonic() + seconds
        while True:
            with lock:
                missing = [k for k in keys if k not in seen]
            if not missing:
                return
            if not thread.is_alive():
                sys.exit("outside: the ledger poller stopped")
            if time.monotonic() > deadline:
                sys.exit(f"outside: {len(missing)} order(s) not visible {seconds} s {since}; logs in {pipeline.logs}")
            pipeline.check_alive()
            time.sleep(0.05)

    try:
        pipeline.start()
        producer = Producer({"bootstrap.servers": pipeline.bootstrap, "linger.ms": args.linger_ms})
        # One message per order: a second version of an order would be acknowledged again
        # after the first was seen, and its latency would be the first's.
        first_of_each = {}
        for key, value in keyed_orders(generated):
            first_of_each.setdefault(key, value)
        records = list(first_of_each.items())[: args.trickle + 1]
        # The first order meets the services' start and is not timed.
        first_key, first_value = records[0]
        send(producer, pipeline.topics["source"], first_key, first_value)
        producer.flush()
        thread = threading.Thread(target=poller, daemon=True)
        thread.start()
        with lock:
            acked[int(first_key)] = time.monotonic()
        wait_seen([int(first_key)], args.timeout, "after the services' start")
        cpu_before, started = pipeline.stats(), time.monotonic()

        def delivered(err, msg):
            if err is not None:
                failed.append(err)
                return
            with lock:
                acked[int(msg.key())] = time.monotonic()

        for i, (key, value) in enumerate(records[1:]):
            due = started + i / args.rate
            while True:
                wait = due - time.monotonic()
                producer.poll(max(0.0, min(wait, 0.001)))
                if wait <= 0:
                    break
            send(producer, pipeline.topics["source"], key, value, delivered)
        producer.flush()
        if failed:
            sys.exit(f"outside: {len(failed)} orders not delivered: {failed[0]}")
        timed = [int(k) for k, _ in records[1:]]
        wait_seen(timed, 60, "after the last was produced")
        cpu_after, elapsed = pipeline.stats(), time.monotonic() - started
    finally:
        done.set()
        if thread is not None:
            thread.join()
        pipeline.close()
    latencies = [(seen[k] - acked[k]) * 1000 for k in timed]
    return report_latencies(
        f"run {run}: {len(latencies)} orders at {args.rate:g}/s",
        args, latencies, cpu_before, cpu_after, elapsed, rss=True,
    )


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("orders", nargs="?", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--linger-ms", type=int, default=5)
    parser.add_argument("--http-port", type=int, default=18080)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--restaurants", type=int, default=8)
    parser.add_argument("--orders-file", type=Path)
    parser.add_argument("--trickle", type=int, default=0, metavar="N")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=0.0, metavar="R")
    parser.add_argument("--service-env", action="append", default=[], metavar="K=V", type=key_value)
    parser.add_argument("--trickle-poll-ms", type=float, default=5.0)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    if args.orders_file:
        report(args, args.orders_file)
        return
    generated = Path(tempfile.mkdtemp(prefix="outside-")) / "orders.jsonl"
    redis_env = {k: v for k, v in os.environ.items() if k.startswith("REDIS_")}
    subprocess.run(
        [
            str(RELEASE / "vault"), "simulate", "--orders", str(args.orders), "--out", str(generated),
            "--users", str(args.users), "--restaurants", str(args.restaurants),
        ],
        check=True,
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn", **redis_env},
    )
    try:
        report(args, generated)
    finally:
        generated.unlink()


def report(args, orders_file):
    runs = range(1, args.runs + 1)
    if args.trickle:
        timed = rate_run if args.rate > 0 else trickle_run
        p99s = [timed(args, run, orders_file) for run in runs]
        print(f"median p99 of {len(p99s)} run(s): {statistics.median(p99s):.0f} ms")
        return
    with open(orders_file, encoding="utf-8") as lines:
        orders = len({json.loads(line)["key"] for line in lines} - {None})
    drains = [backlog_run(args, run, orders_file, orders) for run in runs]
    print(f"median drain of {len(drains)} run(s): {statistics.median(drains):.1f} s")


if __name__ == "__main__":
    main()
