"""Benchmark the message bus end to end: bus requests applied per second, and the time
from an HTTP change's commit to its message on the broker.

Creates a throw-away PostgreSQL database and a temporary ctsd.toml (the AMQP login
"guest" is an admin there), starts `ctsd serve` (the outbox relay runs inside it) and
`ctsd consume`, and binds a queue of its own to the run's topic prefix. Then:

(a) throughput: seeds some composes and a tag, publishes N tag/untag requests (user_id
    guest, persistent, no publisher confirms) alternating per compose, and times from
    the first publish to the arrival of the last change message answering them (matched
    by correlation_id): requests applied per second end to end. Also reported: when the
    database had them all (processed_messages, polled every 50 ms).
(b) latency: M HTTP changes one after another (tag/untag with a unique user_data), each
    timed from its 200 answer (the commit) to the arrival of its change message.

Prints a table and writes JSON to bench/results/ (not committed). The machine is a
shared 2-core box: `calib` is the ms of a fixed CPU loop (../shared/bench/ctsbench.py)
before and after, `mach%` how busy the whole machine was (200% = both cores).

    .venv/bin/python bench/bus_bench.py [-n 5000] [--composes 50] [--latency-changes 500]
                                        [--pause-ms 20] [--prefetch 100] [--batch-size 50]
                                        [--workers 1] [--consumers 2]
                                        [--queue-type classic|quorum]

Every run checks each compose's order on every message, applied and published
(bench/bus_order.py), and fails if it is broken.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import psycopg2
from bus_order import check_applied_order, check_published_order
from run_bench import HARNESS, PG_DSN, RESULTS, admin, free_port, wait_until_up

AMQP_URL = os.environ.get("CTS_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
SENDER = "guest"  # the AMQP login: RabbitMQ only accepts this user_id from us
EXCHANGE = "amq.topic"
TAG = "bench-bus"
TIMEOUT = 300.0


def load_calibrate() -> Callable[[], float]:
    # From a worktree (/work/wt/<branch>) the harness is not beside the checkout.
    harness = os.environ.get("CTS_BENCH_HARNESS", str(HARNESS))
    spec = importlib.util.spec_from_file_location("ctsbench", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.calibrate


class Watcher:
    """A thread consuming everything under the prefix, noting when each message came."""

    def __init__(self, prefix: str) -> None:
        self.arrivals: list[tuple[float, str | None, bytes]] = []
        self._connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        self._channel = self._connection.channel()
        queue = self._channel.queue_declare("", exclusive=True).method.queue
        self._channel.queue_bind(queue, EXCHANGE, routing_key=f"{prefix}#")
        self._channel.basic_consume(queue, self._on_message, auto_ack=True)
        self._thread = threading.Thread(target=self._channel.start_consuming, daemon=True)
        self._thread.start()

    def _on_message(self, _channel: Any, _method: Any, properties: Any, body: bytes) -> None:
        # As little as possible here: the body is read after the run.
        self.arrivals.append((time.monotonic(), properties.correlation_id, body))

    def close(self) -> None:
        self._connection.add_callback_threadsafe(self._channel.stop_consuming)
        self._thread.join(10)
        self._connection.close()


class Http:
    """Blocking JSON calls to the local ctsd."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # 127.0.0.1 only
            return json.loads(response.read())


def compose_info(short: str, date: str) -> dict[str, Any]:
    return {"header": {"type": "productmd.composeinfo", "version": "1.2"},
            "payload": {"compose": {"date": date, "id": f"{short}-1.0-{date}.0", "respin": 0,
                                    "type": "production"},
                        "release": {"internal": False, "name": short.title(), "short": short,
                                    "type": "ga", "version": "1.0"},
                        "variants": {}}}


def seed(http: Http, release: str, count: int) -> list[str]:
    http.call("POST", "/api/1/tags/", {"name": TAG, "description": "bench",
                                       "documentation": "https://docs"})
    return [http.call("POST", "/api/1/composes/", {
        "compose_info": compose_info(release, f"2020{1 + n // 28:02d}{1 + n % 28:02d}")
    })["payload"]["compose"]["id"] for n in range(count)]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


class Usage:
    """CPU seconds of some processes, and how busy the machine was, over an interval."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._start = self._sample()

    @staticmethod
    def _machine() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _sample(self) -> tuple[tuple[int, int], dict[str, float], float]:
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = {}
        for name, pid in self._pids.items():
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[name] = (int(stat[11]) + int(stat[12])) / ticks
        return self._machine(), cpu, time.monotonic()

    def report(self) -> dict[str, Any]:
        (busy0, total0), cpu0, t0 = self._start
        (busy1, total1), cpu1, t1 = self._sample()
        cores = os.cpu_count() or 1
        return {"machine_busy_pct": round(100 * cores * (busy1 - busy0) / max(1, total1 - total0)),
                **{f"{name}_cpu_pct": round(100 * (cpu1[name] - cpu0[name]) / (t1 - t0))
                   for name in self._pids}}


@dataclass
class Run:
    """What both phases work with."""

    http: Http
    watcher: Watcher
    database: str
    prefix: str
    args: argparse.Namespace
    pids: dict[str, int]  # processes whose CPU use is reported, by name


def throughput(run: Run, release: str) -> dict[str, Any]:
    http, watcher, args, prefix = run.http, run.watcher, run.args, run.prefix
    composes = seed(http, release, args.composes)
    requests = []
    for n in range(args.n):
        # Alternating per compose, so that every request really changes something.
        action = "tag" if (n // len(composes)) % 2 == 0 else "untag"
        body = json.dumps({"compose_id": composes[n % len(composes)], "tag": TAG,
                           "user_data": f"bench {n}"}).encode()
        requests.append((f"{prefix}request.{action}", body, str(uuid.uuid4())))
    wanted = {message_id for _, _, message_id in requests}
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    database_conn = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={run.database}"))
    database_conn.autocommit = True
    seen = len(watcher.arrivals)
    usage = Usage(run.pids)
    started = time.monotonic()
    for routing_key, body, message_id in requests:
        channel.basic_publish(EXCHANGE, routing_key, body, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id,
            user_id=SENDER))
    published = time.monotonic()
    applied = 0.0
    answered: dict[str, float] = {}

    def done() -> bool:
        nonlocal seen, applied
        arrivals = watcher.arrivals[seen:]
        seen += len(arrivals)
        answered.update((c, t) for t, c, _ in arrivals if c in wanted)
        if not applied and processed_count(database_conn) >= args.n:
            applied = time.monotonic()
        return len(answered) == len(wanted) and bool(applied)

    wait_for(done, f"answers to {args.n} requests")
    report = usage.report()
    last = max(answered.values())
    connection.close()
    # After the clock stopped: every message's compose order, applied and published.
    checked = {"applied": check_applied_order(database_conn),
               "published": check_published_order(watcher.arrivals)}
    database_conn.close()
    return {"requests": args.n, "composes": len(composes), "prefetch": args.prefetch,
            "batch_size": args.batch_size,
            "publish_s": round(published - started, 3),
            "applied_in_db_s": round(applied - started, 3),
            "end_to_end_s": round(last - started, 3),
            "requests_per_s": round(args.n / (last - started), 1),
            "order_checked": checked, **report}


def processed_count(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM processed_messages")
        return cur.fetchone()[0]


def latency(run: Run, release: str) -> dict[str, Any]:
    http, watcher, args = run.http, run.watcher, run.args
    (compose_id,) = seed_one(http, release)
    start_index = len(watcher.arrivals)
    committed: dict[str, float] = {}
    warmup = 20
    usage = None
    for n in range(warmup + args.latency_changes):
        if n == warmup:
            usage = Usage(run.pids)
        user_data = f"latency {n}"
        http.call("PATCH", f"/api/1/composes/{compose_id}",
                  {"action": "tag" if n % 2 == 0 else "untag", "tag": TAG,
                   "user_data": user_data})
        if n >= warmup:
            committed[user_data] = time.monotonic()
        time.sleep(args.pause_ms / 1000)
    assert usage is not None
    report = usage.report()
    arrived: dict[str, float] = {}
    seen = start_index

    def done() -> bool:
        nonlocal seen
        arrivals = watcher.arrivals[seen:]
        seen += len(arrivals)
        for when, _, body in arrivals:
            user_data = json.loads(body).get("user_data")
            if user_data in committed:
                arrived.setdefault(user_data, when)
        return len(arrived) == len(committed)

    wait_for(done, "the latency series' messages")
    ms = sorted(1000 * (arrived[key] - committed[key]) for key in committed)
    return {"changes": len(ms), "pause_ms": args.pause_ms, "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(ms[-1], 2),
            "min_ms": round(ms[0], 2), "mean_ms": round(statistics.fmean(ms), 2), **report}


def seed_one(http: Http, release: str) -> list[str]:
    info = compose_info(release + "l", "20210101")
    return [http.call("POST", "/api/1/composes/", {"compose_info": info})
            ["payload"]["compose"]["id"]]


def percentile(ordered: list[float], pct: float) -> float:
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def write_config(path: Path, unique: str, args: argparse.Namespace) -> None:
    path.write_text(f"""[auth]
admins = {{ users = ["{SENDER}"] }}
[consumer]
prefetch_count = {args.prefetch}
batch_size = {args.batch_size}
queue_type = "{args.queue_type}"
pungi_topics = ["b{unique}.pungi.compose.status.change"]
odcs_topics = ["b{unique}.odcs.compose.state-changed"]
""")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "ctsd.cli", *command], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def delete_queues(*queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    for queue in queues:
        channel.queue_delete(queue)
    connection.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def table(results: dict[str, Any]) -> str:
    a, b = results["throughput"], results["latency"]
    return "\n".join([
        "phase       n      result                       e2e s   mach%  serve%  consume%",
        f"requests  {a['requests']:5d}  {a['requests_per_s']:8.1f} req/s (target 1000)"
        f"  {a['end_to_end_s']:7.2f}  {a['machine_busy_pct']:5d}  {a['serve_cpu_pct']:6d}"
        f"  {a['consume_cpu_pct']:8d}",
        f"latency   {b['changes']:5d}  p50 {b['p50_ms']:.1f} p99 {b['p99_ms']:.1f} "
        f"max {b['max_ms']:.1f} ms (p99 target 50)       -  {b['machine_busy_pct']:5d}"
        f"  {b['serve_cpu_pct']:6d}  {b['consume_cpu_pct']:8d}",
        f"requests: published in {a['publish_s']} s, all applied in the database after "
        f"{a['applied_in_db_s']} s, last answer after {a['end_to_end_s']} s",
        f"order checked on {a['order_checked']['applied']} applied and "
        f"{a['order_checked']['published']} published messages; "
        f"{results['config']['consumers']} consumers ({results['config']['queue_type']} queue)",
        f"dead letters: {results['dead_letters']}; "
        f"calib ms before/after: {results['calibration_ms']['before']} / "
        f"{results['calibration_ms']['after']} (fixed CPU loop; higher = machine slower)",
    ])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="bus requests to publish")
    parser.add_argument("--composes", type=int, default=50, help="composes they change")
    parser.add_argument("--latency-changes", type=int, default=500,
                        help="HTTP changes timed to their message")
    parser.add_argument("--pause-ms", type=float, default=20,
                        help="pause between the timed HTTP changes")
    parser.add_argument("--prefetch", type=int, default=100, help="[consumer] prefetch_count")
    parser.add_argument("--batch-size", type=int, default=50, help="[consumer] batch_size")
    parser.add_argument("--workers", type=int, default=1, help="ctsd serve --workers")
    parser.add_argument("--consumers", type=int, default=2, help="ctsd consume processes")
    parser.add_argument("--queue-type", default="classic", choices=["classic", "quorum"])
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    calibrate = load_calibrate()
    RESULTS.mkdir(parents=True, exist_ok=True)
    unique = uuid.uuid4().hex[:8]
    database, prefix, queue = f"cts_bench_{unique}", f"b{unique}.cts.", f"ctsd-bench-{unique}"
    workdir = Path(tempfile.mkdtemp(prefix="ctsd-bus-bench-"))
    write_config(workdir / "ctsd.toml", unique, args)
    admin(f'CREATE DATABASE "{database}"')
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CTSD_")},
           "CTSD_CONFIG": str(workdir / "ctsd.toml"),
           "CTSD_DATABASE_URL": f"postgresql://postgres@127.0.0.1/{database}",
           "CTSD_AMQP_URL": AMQP_URL, "CTSD_TOPIC_PREFIX": prefix, "CTSD_CONSUMER_QUEUE": queue}
    processes = []
    watcher = None
    try:
        server = start(["serve", "--port", str(port), "--workers", str(args.workers)], env,
                       workdir / "serve.log")
        processes.append(server)
        wait_until_up(f"http://127.0.0.1:{port}", server)
        # One queue, single active consumer: one applies, the others stand by.
        consumers = [start(["consume"], env, workdir / f"consume{n}.log")
                     for n in range(args.consumers)]
        processes.extend(consumers)
        for n in range(args.consumers):
            log = workdir / f"consume{n}.log"
            wait_for(lambda log=log: "consuming from" in log.read_text(),
                     f"ctsd consume {n} to subscribe", 60)
        watcher = Watcher(prefix)
        pids = {"serve": server.pid, "consume": consumers[0].pid,
                **{f"consume{n}": c.pid for n, c in enumerate(consumers[1:], 1)}}
        run = Run(Http(f"http://127.0.0.1:{port}"), watcher, database, prefix, args, pids)
        results: dict[str, Any] = {"calibration_ms": {"before": calibrate()}}
        results["throughput"] = throughput(run, f"bb{unique}")
        results["latency"] = latency(run, f"bl{unique}")
        results["calibration_ms"]["after"] = calibrate()
        results["dead_letters"] = queue_depth(f"{queue}.dead-letter")
        results["config"] = vars(args)
        results["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    finally:
        if watcher is not None:
            watcher.close()
        for process in reversed(processes):
            stop(process)
        delete_queues(queue, f"{queue}.dead-letter")
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    out = RESULTS / f"bus-{args.n}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"logs: {workdir}\nresults: {out}")


if __name__ == "__main__":
    main()
