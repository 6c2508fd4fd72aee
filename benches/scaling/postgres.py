#!/usr/bin/env python3
"""How the PostgreSQL exporter's cost grows with databases and tables: ours against Debian's
prometheus-postgres-exporter 0.11.1, the same PostgreSQL 15, in one run.

Both run with `--auto-discover-databases` and the table collectors on: ours with its defaults
minus the two collectors 0.11 has no counterpart for (roles, wal), so with stat_user_tables and
statio_user_tables; upstream with those two queries from its own examples/queries.yaml
(`--extend.query-path`), which 0.11 runs on every discovered database as ours does.

Two axes, each on its own throw-away cluster (initdb in a temp dir, a free loopback port, as root
the server runs as `nobody`; fsync and autovacuum off so the server's own work stays out of the
figures):
  * tables: 100, 1,000, 10,000 tables in one database (the `postgres` one);
  * databases: 1, 10, 100, 1,000 databases, each with 10 tables (made from template1).
At every size both exporters are started fresh, warmed up (the first scrape opens their
connections), then scraped in alternation for a bounded number of rounds. Reported per exporter:
exporter CPU per scrape (schedstat of all threads), PostgreSQL CPU per scrape (the postmaster,
its backends, and children reaped meanwhile, read around every scrape), p50 latency, RSS, series.
At 1,000 databases the exporters are measured one after the other instead (2,000 backends at
once would need ~10 GB), each with the machine to itself.

Ours runs twice: with its default `--collector.stat_user_tables.size-interval` (5m: the table
sizes are read at the warm-up and held through the rounds, as between two reads at a real scrape
interval) and with `=0` (sizes read on every scrape, as upstream's current releases do). At a
scrape interval S the default costs on average `ours + (ours0 - ours) * S / 300 s`; the table
gives that for S = 15 s.

    cargo build --release -p postgres-exporter
    python3 benches/scaling/postgres.py [--quick] [--max-databases 1000] [--max-tables 10000]
"""

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import (PG_BIN, ROOT, fmt, free_port, markdown_table, plot, scrape_rounds,  # noqa: E402
                      start_postgres, stop, tree_cpu_ns, wait_http)

UPSTREAM = "/usr/bin/prometheus-postgres-exporter"
UPSTREAM_QUERIES = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml"
PASSWORD = "bench-pw"
TABLES_PER_DB = 10


def table_queries(tmp):
    """pg_stat_user_tables and pg_statio_user_tables from upstream's example file, for 0.11."""
    out, keep = [], False
    with open(UPSTREAM_QUERIES) as f:
        for line in f:
            if line[:1].isalpha():
                keep = line.startswith(("pg_stat_user_tables:", "pg_statio_user_tables:"))
            if keep:
                out.append(line)
    path = os.path.join(tmp, "tables.yaml")
    with open(path, "w") as f:
        f.write("".join(out))
    return path


def stop_postgres(pg):
    """Fast shutdown (SIGINT): a smart one (SIGTERM) would wait for every client to leave."""
    if pg.poll() is None:
        pg.send_signal(signal.SIGINT)
        try:
            pg.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pg.kill()
            pg.wait()


def start_cluster(tmp):
    """A cluster for many tables and databases: fsync and autovacuum off, 1,200 connections."""
    return start_postgres(tmp, PASSWORD, "max_connections=1200", "shared_buffers=64MB", "fsync=off",
                          "synchronous_commit=off", "full_page_writes=off", "autovacuum=off",
                          "max_wal_size=4GB", "max_locks_per_transaction=256")


def psql(port, sql, db="postgres"):
    subprocess.run([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                    "-qAtX", "-v", "ON_ERROR_STOP=1"], input=sql.encode(),
                   env=dict(os.environ, PGPASSWORD=PASSWORD, PGOPTIONS="-c client_min_messages=warning"),
                   check=True, stdout=subprocess.DEVNULL)


def create_tables(port, schema, first, last, db="postgres"):
    sql = [f"CREATE SCHEMA IF NOT EXISTS {schema};"]
    for i in range(first, last):
        sql.append(f"CREATE TABLE {schema}.t{i} (id int PRIMARY KEY, v text);")
        if i % 500 == 499:
            sql.append("COMMIT; BEGIN;")
    psql(port, "BEGIN;\n" + "\n".join(sql) + "\nCOMMIT;", db)


class Reconnecting(http.client.HTTPConnection):
    """A kept-alive connection that reconnects once when the exporter has closed it: ours closes
    one idle for 10 s (its header read timeout), which the other exporters' scrapes in a round
    can take at 10,000 tables or 1,000 databases. The reconnect is counted in that scrape."""

    def __init__(self, name, port):
        super().__init__("127.0.0.1", port, timeout=300)
        self.name = name

    def request(self, *args, **kwargs):
        self.last = (args, kwargs)
        super().request(*args, **kwargs)

    def getresponse(self):
        try:
            return super().getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            print(f"    ({self.name} had closed the idle connection: reconnected)", flush=True)
            self.close()
            super().request(*self.last[0], **self.last[1])
            return super().getresponse()


def measure(args, port, pg, tmp, queries, label, sequential=False):
    dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"
    ours = [args.ours, "--auto-discover-databases", "--no-collector.roles", "--no-collector.wal",
            "--log.level=error"]
    cmds = {
        "ours": ours,
        "ours0": ours + ["--collector.stat_user_tables.size-interval=0"],
        "upstream": [UPSTREAM, "--auto-discover-databases", f"--extend.query-path={queries}",
                     "--log.level=error"],
    }
    groups = [[n] for n in cmds] if sequential else [list(cmds)]
    result = {}
    for group in groups:
        procs, targets = [], {}
        try:
            for name in group:
                hport = free_port()
                p = subprocess.Popen(cmds[name] + [f"--web.listen-address=127.0.0.1:{hport}"],
                                     env=dict(os.environ, DATA_SOURCE_NAME=dsn),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append(p)
                # Ours answers within its 10 s deadline while it is still opening its
                # connections after the start (1,000 databases take two scrapes): warmed up once
                # its table collector completed.
                ready = (b'collector="stat_user_tables"} 1' if name.startswith("ours") else b"pg_up 1")
                wait_http(hport, deadline=120, timeout=300, ok=lambda b: ready in b).close()
                targets[name] = (p.pid, hport)
            targets = {n: (pid, [(Reconnecting(n, hport), "/metrics")]) for n, (pid, hport) in targets.items()}
            result.update(scrape_rounds(targets, args.rounds, args.budget,
                                        side_cpu=lambda: tree_cpu_ns(pg.pid)))
        finally:
            stop(procs)
    o, z, u = result["ours"], result["ours0"], result["upstream"]
    print(f"  {label}: ours cpu {o['cpu']:.1f} ms, pg {o['side']:.1f} ms, p50 {o['p50']:.1f} ms, "
          f"rss {o['rss']:.1f} MB, {o['series']} series | sizes every scrape: cpu {z['cpu']:.1f} ms, "
          f"pg {z['side']:.1f} ms, p50 {z['p50']:.1f} ms | upstream cpu {u['cpu']:.1f} ms, "
          f"pg {u['side']:.1f} ms, p50 {u['p50']:.1f} ms, rss {u['rss']:.1f} MB, {u['series']} series "
          f"({o['rounds']} rounds)", flush=True)
    return result


SCRAPE_INTERVAL_S = 15.0
SIZE_INTERVAL_S = 300.0


def amortized(r, key):
    """Ours per scrape at a 15 s scrape interval: the size read once every 300 s."""
    o, z = r["ours"][key], r["ours0"][key]
    return o + max(0.0, z - o) * SCRAPE_INTERVAL_S / SIZE_INTERVAL_S


def report(axis, sizes, results):
    rows = []
    for size, r in zip(sizes, results):
        o, z, u = r["ours"], r["ours0"], r["upstream"]
        pg15 = amortized(r, "side")
        rows.append([f"{size:,}", fmt(o["cpu"]), fmt(u["cpu"]), fmt(o["cpu"] / u["cpu"]) + "x",
                     fmt(o["side"]), fmt(z["side"]), fmt(pg15), fmt(u["side"]),
                     fmt(o["side"] / u["side"]) + "x", fmt(pg15 / u["side"]) + "x",
                     fmt(o["p50"]), fmt(z["p50"]), fmt(u["p50"]), fmt(o["rss"], 1), fmt(u["rss"], 1),
                     fmt(o["rss"] / u["rss"]) + "x", f"{o['series']:,}", f"{u['series']:,}"])
    print(f"\n### {axis}\n")
    print(markdown_table([axis, "exporter CPU ms ours", "upstream", "ratio", "PostgreSQL CPU ms ours",
                          "ours, sizes every scrape", "ours at 15 s", "upstream", "ratio",
                          "ratio at 15 s", "p50 ms ours", "ours, sizes every scrape", "upstream",
                          "RSS MB ours", "upstream", "ratio", "series ours", "upstream"], rows))


def panels(axis, sizes, results):
    def col(key, who):
        return [r[who][key] for r in results]
    def ratio(key):
        return [r["ours"][key] / r["upstream"][key] for r in results]
    return [
        {"title": f"exporter CPU per scrape vs {axis}", "xlabel": axis, "ylabel": "ms", "x": sizes,
         "xlog": True, "ylog": True, "lines": {"ours": col("cpu", "ours"), "upstream 0.11": col("cpu", "upstream")}},
        {"title": f"PostgreSQL CPU per scrape vs {axis}", "xlabel": axis, "ylabel": "ms", "x": sizes,
         "xlog": True, "ylog": True, "lines": {"ours": col("side", "ours"),
                                               "ours, sizes every scrape": col("side", "ours0"),
                                               "upstream 0.11": col("side", "upstream")}},
        {"title": f"p50 scrape latency vs {axis}", "xlabel": axis, "ylabel": "ms", "x": sizes,
         "xlog": True, "ylog": True, "lines": {"ours": col("p50", "ours"), "upstream 0.11": col("p50", "upstream")},
         "hlines": [{"y": 10000, "label": "10 s scrape timeout"}]},
        {"title": f"RSS vs {axis}", "xlabel": axis, "ylabel": "MB", "x": sizes, "xlog": True, "ylog": True,
         "lines": {"ours": col("rss", "ours"), "upstream 0.11": col("rss", "upstream")}},
        {"title": f"ours / upstream vs {axis}", "xlabel": axis, "ylabel": "ratio", "x": sizes, "xlog": True,
         "lines": {"ours CPU ratio": ratio("cpu"), "ours PostgreSQL-CPU ratio": ratio("side"),
                   "ours PostgreSQL-CPU ratio at 15 s": [amortized(r, "side") / r["upstream"]["side"]
                                                         for r in results],
                   "ours RSS ratio": ratio("rss")},
         "hlines": [{"y": 0.25, "label": "CPU target 0.25x"}, {"y": 0.5, "label": "PostgreSQL-side target 0.5x"}]},
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "release", "postgres-exporter"))
    ap.add_argument("--rounds", type=int, default=20, help="max alternating rounds per size")
    ap.add_argument("--budget", type=float, default=12.0, help="seconds of scraping per size (>= 3 rounds)")
    ap.add_argument("--max-databases", type=int, default=1000)
    ap.add_argument("--max-tables", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="100 databases and 1,000 tables at most")
    ap.add_argument("--plot", default=os.path.join(ROOT, "benches", "scaling", "plots", "postgres.png"))
    args = ap.parse_args()
    if args.quick:
        args.max_databases, args.max_tables = min(args.max_databases, 100), min(args.max_tables, 1000)
    for binary in (args.ours, UPSTREAM, f"{PG_BIN}/postgres", UPSTREAM_QUERIES):
        if not os.path.exists(binary):
            raise SystemExit(f"missing {binary}")

    tmp = tempfile.mkdtemp(prefix="pgscale", dir="/tmp")
    os.chmod(tmp, 0o755)  # the clusters below it run as `nobody` when we are root
    pg = None
    try:
        queries = table_queries(tmp)
        table_sizes = [n for n in (100, 1000, 10000) if n <= args.max_tables]
        db_sizes = [n for n in (1, 10, 100, 1000) if n <= args.max_databases]

        # One cluster per axis: dropping 10,000 tables leaves the catalogs bloated (autovacuum is
        # off), which would weigh on every later query of the databases axis.
        print(f"tables in one database: {table_sizes}", flush=True)
        pg, port = start_cluster(os.path.join(tmp, "tables"))
        tables_results, made = [], 0
        for n in table_sizes:
            t = time.time()
            create_tables(port, "bench", made, n)
            made = n
            psql(port, "ANALYZE;")
            print(f"  ({n:,} tables made, {time.time() - t:.0f} s)", flush=True)
            tables_results.append(measure(args, port, pg, tmp, queries, f"{n:,} tables"))
        stop_postgres(pg)
        pg = None
        shutil.rmtree(os.path.join(tmp, "tables"), ignore_errors=True)

        print(f"databases, {TABLES_PER_DB} tables each: {db_sizes}", flush=True)
        pg, port = start_cluster(os.path.join(tmp, "databases"))
        create_tables(port, "app", 0, TABLES_PER_DB, db="template1")
        create_tables(port, "app", 0, TABLES_PER_DB, db="postgres")
        db_results, made = [], 1  # `postgres` itself is the first
        for n in db_sizes:
            t = time.time()
            for i in range(made, n):
                psql(port, f"CREATE DATABASE d{i} STRATEGY FILE_COPY;")
            made = max(made, n)
            print(f"  ({n:,} databases, {time.time() - t:.0f} s to make)", flush=True)
            db_results.append(measure(args, port, pg, tmp, queries, f"{n:,} databases",
                                      sequential=n > 100))
    finally:
        if pg is not None:
            stop_postgres(pg)
        shutil.rmtree(tmp, ignore_errors=True)

    print("\npostgres exporter vs postgres_exporter 0.11.1, --auto-discover-databases, table collectors on")
    report("tables", table_sizes, tables_results)
    report("databases", db_sizes, db_results)
    out = plot(args.plot, "PostgreSQL exporter: ours vs postgres_exporter 0.11.1 (auto-discovery, table collectors)",
               panels("tables", table_sizes, tables_results) + panels("databases", db_sizes, db_results),
               cols=5)
    if out:
        print(f"\nplot: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
