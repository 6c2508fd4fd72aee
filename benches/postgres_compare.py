#!/usr/bin/env python3
"""Side-by-side benchmark: our postgres-exporter against Debian's prometheus-postgres-exporter 0.11,
both scraping the same PostgreSQL 15, in one run.

Creates a throw-away PostgreSQL cluster (initdb into a temp dir, a free loopback port; as root the
server runs as `nobody`), starts both exporters with default flags against it, warms them up, then
scrapes each N times in alternation and reports per exporter:

  * p50 / p99 scrape latency;
  * exporter CPU per scrape (utime+stime of the exporter process, /proc/<pid>/stat);
  * exporter RSS after the run and its peak (VmHWM);
  * PostgreSQL-side CPU per scrape: measured around every single scrape as the CPU time of the
    postmaster and all its children (/proc/<pid>/schedstat, nanoseconds) plus the CPU of children
    that exited meanwhile (the postmaster's cutime+cstime), so connection churn is counted too.

    python3 benches/postgres_compare.py [--scrapes 200] [--interval 0]

`--interval S` waits S seconds between rounds, nearer a real scrape interval: PostgreSQL flushes
its statistics about once a second, and what ours re-reads only when the statistics show a
change (database sizes, after writes) or when time has passed (table sizes, every 5 minutes)
could be read more often paced than back to back. Run both to see the range.

Build ours first: cargo build --release -p postgres-exporter
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from benchlib import (PG_BIN, ROOT, cpu_seconds as exporter_cpu_seconds, free_port, print_ratio_table, scrape,
                      scrape_summary, start_postgres, stop, tree_cpu_ns, wait_http)

UPSTREAM = "/usr/bin/prometheus-postgres-exporter"
LIKE_FOR_LIKE_OFF = ("roles", "stat_user_tables", "statio_user_tables", "wal")
PASSWORD = "bench-pw"


def start_postgres_with_data(tmp):
    proc, port = start_postgres(tmp, PASSWORD)
    # A little data, so sizes and statistics are not trivially empty.
    subprocess.run([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qAtX", "-c",
                    "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g"],
                   env=dict(os.environ, PGPASSWORD=PASSWORD), check=True)
    return proc, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.0, help="seconds between rounds")
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "release", "postgres-exporter"))
    args = ap.parse_args()
    for binary in (args.ours, UPSTREAM, f"{PG_BIN}/postgres"):
        if not os.path.exists(binary):
            raise SystemExit(f"missing {binary}")

    tmp = tempfile.mkdtemp(prefix="pgbench", dir="/tmp")
    procs = []
    try:
        pg, pg_port = start_postgres_with_data(tmp)
        dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{pg_port}/postgres?sslmode=disable"
        conns = {}
        # Like for like: ours turns on by default the collectors that current upstream releases
        # do (roles, stat_user_tables, statio_user_tables, wal), which 0.11 does not have.
        flags = {"ours": [f"--no-collector.{c}" for c in LIKE_FOR_LIKE_OFF], "upstream": []}
        for name, binary in (("ours", args.ours), ("upstream", UPSTREAM)):
            port = free_port()
            p = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", *flags[name]],
                                 env=dict(os.environ, DATA_SOURCE_NAME=dsn),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            conns[name] = (p, wait_http(port, timeout=30, ok=lambda body: b"pg_up 1" in body))
        for _ in range(10):
            for _, (p, c) in conns.items():
                scrape(c)
        cpu0 = {n: exporter_cpu_seconds(p.pid) for n, (p, _) in conns.items()}
        lat = {n: [] for n in conns}
        pg_ns = {n: 0 for n in conns}
        size, families = {}, {}
        for _ in range(args.scrapes):
            if args.interval:
                time.sleep(args.interval)
            for name, (p, c) in conns.items():
                before = tree_cpu_ns(pg.pid)
                t, body = scrape(c)
                pg_ns[name] += tree_cpu_ns(pg.pid) - before
                lat[name].append(t * 1000)
                size[name] = len(body)
                families[name] = body.count(b"\n# TYPE ") + 1
        stats = {}
        for name, (p, _) in conns.items():
            stats[name] = {
                # Includes the exporter's idle CPU between rounds (timers, none expected).
                "cpu": (exporter_cpu_seconds(p.pid) - cpu0[name]) * 1000 / args.scrapes,
                "pgcpu": pg_ns[name] / 1e6 / args.scrapes,
                **scrape_summary(lat[name], p.pid, size[name], families[name]),
            }
    finally:
        stop(procs)
        if "pg" in locals():
            stop([pg], timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    o, u = stats["ours"], stats["upstream"]
    pace = f"{args.interval}s between rounds" if args.interval else "back to back"
    print(f"postgres exporter, {args.scrapes} alternating scrapes each ({pace}), default flags (ours without the collectors 0.11 lacks), same PostgreSQL 15\n")
    rows = [("p50 latency (ms)", "p50"), ("p99 latency (ms)", "p99"),
            ("exporter CPU per scrape (ms)", "cpu"), ("PostgreSQL CPU per scrape (ms)", "pgcpu"),
            ("RSS after (MB)", "rss"), ("peak RSS (MB)", "peak"),
            ("response bytes", "bytes"), ("families", "families")]
    print_ratio_table(o, u, rows, upstream_label="upstream 0.11")


if __name__ == "__main__":
    sys.exit(main())
