"""The pipeline measured from outside, as a user would measure it (issue 30).

    eval "$(scripts/stack env)"
    benches/outside/run [ORDERS] [--runs N] [--partitions P] [--linger-ms MS]
        [--users U] [--restaurants R] [--orders-file FILE] [--keep-db]

Per run, on the servers of `scripts/stack`, with nothing of the bench's own machinery:

1. a fresh database (not migrated: the services migrate it at start, as in a first install) and
   fresh topics with P partitions each (default 3): source, STG's and DDS's outputs, one
   dead-letter topic per stage;
2. ORDERS orders (default 100,000) from `vault simulate --out` (the bench's generator and
   dictionaries, loaded into Redis; U users and R restaurants, default 500 and 8, as the bench), produced by a plain Python producer (confluent-kafka,
   `linger.ms` 5 unless --linger-ms) before any service runs. With --orders-file, the orders of
   FILE instead (the same JSON lines: `key`, `value`; their dictionaries already in Redis);
3. the three release binaries started as processes, each with its defaults and only the
   variables a deployment sets (connection, topics, group, HTTP port);
4. `sum(order_cnt)` of `cdm.restaurant_category_counters` polled every 0.2 s, from the services'
   start until it reaches its final value (the orders are all in `cdm.order_ledger` and the sum
   has not moved for a second); that final value is checked against the recomputation from the
   Data Vault (`cdm.v_restaurant_category_counters_recomputed`).

It prints, per run, the produce time, the drain (services' start to the final sum), the time to
the first counter, each service's CPU seconds and peak RSS, and the median drain over the runs.
The database, topics, groups and dictionary keys stay only with --keep-db.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
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


def produce(bootstrap, topic, path, linger_ms):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms})
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    sent = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            value = record.get("value")
            value = value.encode() if value is not None else bytes(record["value_bytes"])
            key = record["key"].encode() if record["key"] is not None else None
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
            sent += 1
    producer.flush()
    if failed:
        sys.exit(f"outside: {len(failed)} messages not delivered: {failed[0]}")
    return sent


def one_run(args, run, generated, sent_orders):
    tag = f"outside_{os.getpid()}_{run}"
    bootstrap = env("KAFKA_BOOTSTRAP")
    topics = {
        "source": f"{tag}.orders",
        "stg": f"{tag}.stg-orders",
        "dds": f"{tag}.dds-orders",
    }
    dlqs = {stage: f"{tag}.{stage}.dlq" for stage in STAGES}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = list(topics.values()) + list(dlqs.values())
    for future in admin.create_topics(
        [NewTopic(name, args.partitions, 1) for name in names]
    ).values():
        future.result()
    with psycopg.connect(pg_url(env("PG_WAREHOUSE_DBNAME")), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{tag}"')

    started = time.monotonic()
    produced = produce(bootstrap, topics["source"], generated, args.linger_ms)
    produce_s = time.monotonic() - started

    logs = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KAFKA_HOST": env("KAFKA_HOST"),
        "KAFKA_PORT": env("KAFKA_PORT"),
        **{k: v for k, v in os.environ.items() if k.startswith("PG_WAREHOUSE_")},
        "PG_WAREHOUSE_DBNAME": tag,
    }
    sources = {"stg": topics["source"], "dds": topics["stg"], "cdm": topics["dds"]}
    outputs = {"stg": topics["stg"], "dds": topics["dds"]}
    services = {}
    started = time.monotonic()
    for i, stage in enumerate(STAGES):
        service_env = dict(base)
        service_env.update(
            KAFKA_SOURCE_TOPIC=sources[stage],
            KAFKA_DLQ_TOPIC=dlqs[stage],
            KAFKA_CONSUMER_GROUP=f"{tag}-{stage}",
            HTTP_PORT=str(args.http_port + i),
        )
        if stage in outputs:
            service_env["KAFKA_DESTINATION_TOPIC"] = outputs[stage]
        if stage == "stg":
            service_env.update(
                {k: v for k, v in os.environ.items() if k.startswith("REDIS_")}
            )
        log = open(logs / f"{stage}.log", "wb")
        services[stage] = subprocess.Popen(
            [str(RELEASE / f"{stage}-service")], env=service_env, stdout=log, stderr=log
        )

    timeline = []
    stats = {}
    try:
        with psycopg.connect(pg_url(tag), autocommit=True) as c:
            while True:
                now = time.monotonic() - started
                try:
                    total, ledger = c.execute(
                        "SELECT (SELECT coalesce(sum(order_cnt), 0) FROM cdm.restaurant_category_counters),"
                        " (SELECT count(*) FROM cdm.order_ledger)"
                    ).fetchone()
                except psycopg.errors.UndefinedTable:
                    total, ledger = 0, 0  # not migrated yet
                timeline.append((now, int(total), int(ledger)))
                settled = [t for t in timeline if t[0] >= now - SETTLED_S]
                if ledger >= sent_orders and len({t[1] for t in settled}) == 1 and now > SETTLED_S:
                    break
                for stage, p in services.items():
                    if p.poll() is not None:
                        sys.exit(f"outside: {stage}-service exited ({p.returncode}); log in {logs}")
                if now > args.timeout:
                    sys.exit(f"outside: not drained after {args.timeout} s ({ledger} orders in the ledger); logs in {logs}")
                time.sleep(max(0.0, POLL_S - (time.monotonic() - started - now)))
            recomputed = c.execute(
                "SELECT coalesce(sum(order_cnt), 0) FROM cdm.v_restaurant_category_counters_recomputed"
            ).fetchone()[0]
        for stage, p in services.items():
            stats[stage] = proc_stats(p.pid)
    finally:
        for p in services.values():
            p.send_signal(signal.SIGTERM)
        for p in services.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep_db:
            with psycopg.connect(pg_url(env("PG_WAREHOUSE_DBNAME")), autocommit=True) as c:
                c.execute(f'DROP DATABASE "{tag}" WITH (FORCE)')
            for future in admin.delete_topics(names).values():
                future.result()
            admin.delete_consumer_groups([f"{tag}-{s}" for s in STAGES])
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
        + f"; logs in {logs}"
    )
    if not exact:
        sys.exit("outside: the counters differ from their recomputation")
    return drain


def main():
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
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    if args.orders_file:
        with open(args.orders_file, encoding="utf-8") as lines:
            orders = len({json.loads(line)["key"] for line in lines} - {None})
        drains = [one_run(args, run, args.orders_file, orders) for run in range(1, args.runs + 1)]
        print(f"median drain of {len(drains)} run(s): {statistics.median(drains):.1f} s")
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
    drains = [one_run(args, run, generated, args.orders) for run in range(1, args.runs + 1)]
    print(f"median drain of {len(drains)} run(s): {statistics.median(drains):.1f} s")
    generated.unlink()


if __name__ == "__main__":
    main()
