#!/usr/bin/env python3
"""Writes the three Grafana dashboards (dashboards/*.json) from one description, so every panel
gets the same datasource variable, units, descriptions and layout rules.

    python3 monitoring/grafana/generate.py          # rewrite the JSON files
    python3 monitoring/grafana/generate.py --check  # exit 1 if they are out of date

File provisioning does not resolve `__inputs`/`${DS_PROMETHEUS}`, so every panel refers to the
`datasource` templating variable instead.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}


def target(expr, legend="", ref="A", instant=False):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t["instant"] = True
    return t


def quantiles(bucket, by, legend):
    """Targets for the p50, p95 and p99 of the histogram `bucket` (a series selector) over 5m,
    grouped by `le` and `by` (", name" or ""); `legend` formats `p` (50, 95, 99)."""
    return [target(f"histogram_quantile({q}, sum by (le{by}) (rate({bucket}[5m])))",
                   legend.format(p=int(q * 100)))
            for q in (0.5, 0.95, 0.99)]


def thresholds(*steps):
    """steps: (value, color) pairs after the base green."""
    return {"mode": "absolute",
            "steps": [{"color": "green", "value": None}] + [{"color": c, "value": v} for v, c in steps]}


def panel(kind, title, description, targets, unit="short", grid=(0, 0, 12, 8), th=None,
          mappings=None, options=None, min_=None, max_=None, stack=False):
    x, y, w, h = grid
    defaults = {"unit": unit, "thresholds": th or thresholds()}
    if mappings:
        defaults["mappings"] = mappings
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "never",
                              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
        if th:
            defaults["custom"]["thresholdsStyle"] = {"mode": "line"}
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    if kind == "gauge":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "showThresholdMarkers": True}
    if kind == "bargauge":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "displayMode": "gradient", "orientation": "horizontal"}
    if kind == "table":
        p["options"] = {"showHeader": True}
    return p


def up_stat(title, description, expr, grid):
    """A stat of a 0/1 `up`-style series per instance, shown as UP or DOWN."""
    return panel("stat", title, description, [target(expr, "{{instance}}")], grid=grid,
                 th=thresholds((1, "green")), mappings=UP_DOWN)


def rate_by(title, description, labels, selector, grid, unit="short", stack=False):
    """Per second over 5m of the counter `selector`, summed by `labels` (legend: their values)."""
    legend = " ".join(f"{{{{{l.strip()}}}}}" for l in labels.split(","))
    return panel("timeseries", title, description,
                 [target(f"sum by ({labels}) (rate({selector}[5m]))", legend)],
                 unit=unit, grid=grid, stack=stack)


def share(title, description, part, whole, window, legend, limit, grid):
    """The share of the counter `whole` that `part` makes over `window`, red from `limit` (the
    alert's threshold)."""
    return panel("timeseries", title, description,
                 [target(f"sum(rate({part}[{window}])) / sum(rate({whole}[{window}]))", legend)],
                 unit="percentunit", grid=grid, th=thresholds((limit, "red")), min_=0)


def percent_gauge(title, description, expr, x, limit):
    """A gauge of the host row: a percentage per instance, 0 to 100, red from `limit`."""
    return panel("gauge", title, description, [target(expr, "{{instance}}")],
                 unit="percent", grid=(x, 1, 6, 6), th=thresholds((limit, "red")), min_=0, max_=100)


def row(title, y):
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}}


UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"},
                                         "1": {"text": "UP", "color": "green"}}}]


def variables(job_regex, instance_metric):
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": ""},
        {"name": "job", "label": "Job", "type": "query", "datasource": DS,
         "query": {"query": f'label_values(up{{job=~"{job_regex}"}}, job)', "refId": "job"},
         "definition": f'label_values(up{{job=~"{job_regex}"}}, job)',
         "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "refresh": 2,
         "sort": 1, "hide": 0},
        {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
         "query": {"query": f'label_values({instance_metric}{{job=~"$job"}}, instance)',
                   "refId": "instance"},
         "definition": f'label_values({instance_metric}{{job=~"$job"}}, instance)',
         "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "refresh": 2,
         "sort": 1, "hide": 0},
    ]}


def dashboard(uid, title, description, tags, panels, templating):
    return {
        "uid": uid, "title": title, "description": description, "tags": tags,
        "editable": True, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"}, "timezone": "browser",
        "templating": templating, "annotations": {"list": []}, "links": [],
        "panels": [dict(p, id=i + 1) for i, p in enumerate(panels)],
    }


SEL = 'job=~"$job", instance=~"$instance"'


def application_overview():
    req = f"flask_http_request_total{{{SEL}}}"
    return dashboard(
        "app-overview", "Application Overview",
        "HTTP traffic of the instrumented web service: rates, errors, latency, in-flight requests.",
        ["application", "http"], [
            up_stat("Application health", "1 when Prometheus can scrape the service.",
                    f'up{{{SEL}}}', (0, 0, 6, 4)),
            panel("stat", "Total requests (1h)", "Requests answered in the last hour.",
                  [target(f"sum(increase({req}[1h]))")], grid=(6, 0, 6, 4)),
            panel("stat", "Total errors (1h)", "5xx answers in the last hour.",
                  [target(f'sum(increase(flask_http_request_total{{{SEL}, status=~"5.."}}[1h]))')],
                  grid=(12, 0, 6, 4), th=thresholds((1, "orange"), (100, "red"))),
            panel("stat", "Active requests", "Requests being handled right now.",
                  [target(f"sum(flask_http_requests_in_progress{{{SEL}}})")], grid=(18, 0, 6, 4)),
            rate_by("Request rate by endpoint", "Requests per second by route template (path) and method.",
                    "method, path", req, (0, 4, 12, 8), unit="reqps"),
            share("Error rate (5xx)", "Share of requests answered 5xx. HighErrorRate fires above 5% for 5 minutes.",
                  f'flask_http_request_total{{{SEL}, status=~"5.."}}', req, "5m", "5xx share", 0.05, (12, 4, 12, 8)),
            panel("timeseries", "Response time percentiles",
                  "p50, p95 and p99 latency from the request duration histogram. HighResponseTime "
                  "fires when p95 stays above 2 s.",
                  quantiles(f"flask_http_request_duration_seconds_bucket{{{SEL}}}", "", "p{p}"),
                  unit="s", grid=(0, 12, 12, 8), th=thresholds((2, "red"))),
            rate_by("Status code distribution", "Answers per second by status code.",
                    "status", req, (12, 12, 12, 8), unit="reqps", stack=True),
        ], variables("web", "flask_http_request_total"))


def celery_workers():
    sel = SEL
    tasks = f"celery_tasks_total{{{sel}"
    return dashboard(
        "celery-workers", "Celery Workers",
        "Background task processing: task outcomes, durations, queues and worker health.",
        ["celery", "workers"], [
            panel("stat", "Workers alive", "Workers whose heartbeats arrive. CeleryWorkersDown fires at 0.",
                  [target(f"sum(celery_workers{{{sel}}})")], grid=(0, 0, 6, 4),
                  th={"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                    {"color": "green", "value": 1}]}),
            panel("stat", "Pending tasks", "Tasks waiting in the broker's queues now.",
                  [target(f"sum(celery_queue_length{{{sel}}})")], grid=(6, 0, 6, 4),
                  th=thresholds((50, "orange"), (100, "red"))),
            panel("stat", "Active tasks", "Tasks being executed by workers now.",
                  [target(f"sum(celery_worker_tasks_active{{{sel}}})")], grid=(12, 0, 6, 4)),
            panel("stat", "Failed tasks (1h)", "Tasks that failed in the last hour.",
                  [target(f'sum(increase({tasks}, state="FAILURE"}}[1h]))')], grid=(18, 0, 6, 4),
                  th=thresholds((1, "orange"), (50, "red"))),
            rate_by("Task completion rate", "Tasks finished per second, by outcome.",
                    "state", f'{tasks}, state=~"SUCCESS|FAILURE"}}', (0, 4, 12, 8), unit="ops"),
            share("Task failure rate",
                  "Failures among finished tasks. HighTaskFailureRate fires above 10% for 5 minutes.",
                  f'{tasks}, state="FAILURE"}}', f'{tasks}, state=~"SUCCESS|FAILURE"}}', "10m", "failure share",
                  0.1, (12, 4, 12, 8)),
            panel("timeseries", "Task duration percentiles", "p50, p95, p99 task runtime, by task name.",
                  quantiles(f"celery_task_runtime_seconds_bucket{{{sel}}}", ", name", "p{p} {{{{name}}}}"),
                  unit="s", grid=(0, 12, 12, 8)),
            panel("timeseries", "Queue status",
                  "Waiting tasks per queue, tasks in execution, and retries per second.",
                  [target(f"sum by (queue) (celery_queue_length{{{sel}}})", "pending {{queue}}"),
                   target(f"sum(celery_worker_tasks_active{{{sel}}})", "active"),
                   target(f'sum(rate({tasks}, state="RETRY"}}[5m]))', "retry/s")],
                  grid=(12, 12, 12, 8), th=thresholds((100, "red"))),
            panel("table", "Worker health", "Each worker: up (heartbeats arriving) and tasks in execution.",
                  [target(f"celery_worker_up{{{sel}}}", "{{hostname}}", instant=True),
                   target(f"celery_worker_tasks_active{{{sel}}}", "{{hostname}}", instant=True)],
                  grid=(0, 20, 12, 8), mappings=UP_DOWN),
            panel("bargauge", "Task distribution by type", "Tasks finished in the last hour, by task name.",
                  [target(f'sum by (name) (increase({tasks}, state=~"SUCCESS|FAILURE"}}[1h]))', "{{name}}",
                          instant=True)],
                  grid=(12, 20, 12, 8)),
            rate_by("Task throughput", "All task events per second, by state.",
                    "state", f"{tasks}}}", (0, 28, 12, 8), unit="ops", stack=True),
            panel("timeseries", "Queue wait p95", "Time tasks waited in the queue before a worker took them.",
                  [target(f"histogram_quantile(0.95, sum by (le, queue) (rate("
                          f"celery_task_queue_wait_seconds_bucket{{{sel}}}[5m])))", "{{queue}}")],
                  unit="s", grid=(12, 28, 12, 8)),
        ], variables("celery_flower", "celery_up"))


def infrastructure():
    node = 'job=~"$job", instance=~"$instance"'
    mem_used = f"node_memory_MemTotal_bytes{{{node}}} - node_memory_MemAvailable_bytes{{{node}}}"
    cpu_busy = f'100 - (avg by (instance) (rate(node_cpu_seconds_total{{{node}, mode="idle"}}[5m])) * 100)'
    return dashboard(
        "infrastructure", "Infrastructure",
        "Hosts (node exporter), PostgreSQL and Redis.",
        ["infrastructure", "node", "postgres", "redis"], [
            row("Host", 0),
            percent_gauge("CPU usage", "Share of CPU time not idle, averaged over all cores.", cpu_busy, 0, 80),
            percent_gauge("Memory usage", "Share of memory not available to new work.",
                          f"100 * (1 - (node_memory_MemAvailable_bytes{{{node}}} / node_memory_MemTotal_bytes{{{node}}}))",
                          6, 85),
            percent_gauge("Disk usage (/)", "Share of the root file system in use.",
                          f'100 - ((node_filesystem_avail_bytes{{{node}, mountpoint="/"}} / '
                          f'node_filesystem_size_bytes{{{node}, mountpoint="/"}}) * 100)', 12, 85),
            panel("stat", "Memory used", "Bytes in use (total minus available).",
                  [target(mem_used, "{{instance}}")], unit="bytes", grid=(18, 1, 6, 6)),
            panel("timeseries", "CPU usage over time", "CPU busy share per instance.",
                  [target(cpu_busy, "{{instance}}")],
                  unit="percent", grid=(0, 7, 12, 8), th=thresholds((80, "red")), min_=0, max_=100),
            panel("timeseries", "Memory over time", "Used and available memory.",
                  [target(mem_used, "used {{instance}}"),
                   target(f"node_memory_MemAvailable_bytes{{{node}}}", "available {{instance}}")],
                  unit="bytes", grid=(12, 7, 12, 8)),
            panel("table", "Disk usage by mount point", "Used share of every file system.",
                  [target(f'100 - (node_filesystem_avail_bytes{{{node}, fstype!~"tmpfs|ramfs"}} / '
                          f'node_filesystem_size_bytes{{{node}, fstype!~"tmpfs|ramfs"}} * 100)',
                          "{{mountpoint}}", instant=True)],
                  unit="percent", grid=(0, 15, 12, 8), th=thresholds((85, "red"))),
            panel("timeseries", "Network I/O", "Bytes per second received (+) and transmitted (-) per device.",
                  [target(f'rate(node_network_receive_bytes_total{{{node}, device!="lo"}}[5m])', "rx {{device}}"),
                   target(f'-rate(node_network_transmit_bytes_total{{{node}, device!="lo"}}[5m])', "tx {{device}}")],
                  unit="Bps", grid=(12, 15, 12, 8)),
            row("PostgreSQL", 23),
            up_stat("PostgreSQL status", "1 when the exporter reaches the database.", "pg_up", (0, 24, 6, 6)),
            panel("timeseries", "PostgreSQL connections", "Backends by database and state, and the limit.",
                  [target("sum by (datname, state) (pg_stat_activity_count)", "{{datname}} {{state}}"),
                   target("max(pg_settings_max_connections)", "max_connections")],
                  grid=(6, 24, 9, 8)),
            panel("timeseries", "PostgreSQL transaction rate", "Commits and rollbacks per second.",
                  [target("sum(rate(pg_stat_database_xact_commit[5m]))", "commits"),
                   target("sum(rate(pg_stat_database_xact_rollback[5m]))", "rollbacks")],
                  unit="ops", grid=(15, 24, 9, 8)),
            row("Redis", 32),
            up_stat("Redis status", "1 when the exporter reaches Redis.", "redis_up", (0, 33, 6, 6)),
            panel("timeseries", "Redis connections", "Connected clients.",
                  [target("redis_connected_clients", "{{instance}}")], grid=(6, 33, 9, 8)),
            panel("timeseries", "Redis memory usage", "Used memory, and maxmemory when set.",
                  [target("redis_memory_used_bytes", "used {{instance}}"),
                   target("redis_memory_max_bytes > 0", "max {{instance}}")],
                  unit="bytes", grid=(15, 33, 9, 8)),
        ], variables("node", "node_uname_info"))


DASHBOARDS = {
    "application-overview.json": application_overview,
    "celery-workers.json": celery_workers,
    "infrastructure.json": infrastructure,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(HERE, "dashboards", name)
        text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            if check:
                stale.append(name)
            else:
                with open(path, "w") as f:
                    f.write(text)
    if stale:
        print("out of date (run monitoring/grafana/generate.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
