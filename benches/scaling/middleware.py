#!/usr/bin/env python3
"""Runs the middleware scaling criterion bench (benches/middleware_scaling.rs) and turns its
estimates into a table and a plot: ns added per request by ours (`instrument`) and by
axum-prometheus, against the number of route templates and against threads sharing one registry.

    python3 benches/scaling/middleware.py [--no-run] [--quick]

--no-run reads the estimates of the last run (target/criterion/{routes,threads}/...).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import ROOT, fmt, markdown_table, plot  # noqa: E402

IMPLS = ["instrument", "axum-prometheus"]
ROUTES = [1, 10, 100, 1000]
THREADS = [1, 2, 4, 8, 16]


def estimate(group, impl, size):
    path = os.path.join(ROOT, "target", "criterion", group, impl, str(size), "new", "estimates.json")
    try:
        with open(path) as f:
            e = json.load(f)
    except OSError:
        return None
    return {"mean": e["mean"]["point_estimate"], "median": e["median"]["point_estimate"],
            "lo": e["mean"]["confidence_interval"]["lower_bound"], "hi": e["mean"]["confidence_interval"]["upper_bound"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--quick", action="store_true", help="accepted for run-all; the bench is already short")
    ap.add_argument("--plot", default=os.path.join(ROOT, "benches", "scaling", "plots", "middleware.png"))
    args = ap.parse_args()
    if not args.no_run:
        cmd = ["cargo", "bench", "--bench", "middleware_scaling"]
        subprocess.run(cmd, cwd=ROOT, check=True)

    panels = []
    for group, sizes, axis in (("routes", ROUTES, "route templates (requests cycle over all)"),
                               ("threads", THREADS, "threads sharing one registry (10 routes)")):
        est = {i: [estimate(group, i, n) for n in sizes] for i in IMPLS}
        rows = []
        for k, n in enumerate(sizes):
            o, a = est["instrument"][k], est["axum-prometheus"][k]
            rows.append([f"{n:,}", fmt(o["median"], 0) if o else "-", fmt(o["lo"], 0) + "-" + fmt(o["hi"], 0) if o else "-",
                         fmt(a["median"], 0) if a else "-", fmt(a["lo"], 0) + "-" + fmt(a["hi"], 0) if a else "-",
                         (fmt(o["median"] / a["median"]) + "x") if o and a else "-"])
        unit = "CPU ns added per request" if group == "threads" else "ns added per request"
        print(f"\n### {axis}: {unit} (median; mean's 95% interval)\n")
        print(markdown_table([group, "ours", "ours mean CI", "axum-prometheus", "axum-prometheus mean CI",
                              "ours / axum-prometheus"], rows))
        panels.append({"title": f"{unit} vs {group}", "xlabel": axis, "ylabel": "ns", "x": sizes, "xlog": True,
                       "ylog": True,
                       "lines": {"ours (instrument)": [e["median"] if e else None for e in est["instrument"]],
                                 "axum-prometheus 0.10": [e["median"] if e else None for e in est["axum-prometheus"]]}})
    out = plot(args.plot, "HTTP middleware inside axum: ours vs axum-prometheus", panels, cols=2)
    if out:
        print(f"\nplot: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
