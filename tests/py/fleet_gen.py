#!/usr/bin/env python3
"""Service-graph and span-metrics series in the OpenTelemetry Collector's exact names, for a
synthetic fleet: what the `servicegraph` and `spanmetrics` connectors export to Prometheus.

Deterministic. N services `svc-0000`..; each calls K others (i -> (i + 1 + k*(N//K)) % N).
Three samples, 120 s apart, ending at --now (Unix seconds):
  traces_service_graph_request_total           +600 a step per edge (base 1e6)
  traces_service_graph_request_failed_total    +6 a step (1 %); the first edge of svc-0000 +180 (30 %)
  traces_service_graph_request_client_seconds  every observation in (0.05, 0.1]  -> p50 75 ms, p99 99.5 ms
  traces_service_graph_request_server_seconds  every observation in (0.025, 0.05]
  traces_span_metrics_calls_total              per service, a CLIENT db call (postgresql db-i/orders):
                                               UNSET +120, ERROR +3 a step; a SERVER series +999 (not an edge);
                                               svc-0000 also a CLIENT series with peer_service = its first
                                               service-graph peer (+50: the same calls, dropped)
  traces_span_metrics_duration_milliseconds    db calls in (10, 25] ms -> p50 17.5 ms

--format openmetrics (promtool tsdb create-blocks-from openmetrics: seconds, # EOF) or
prometheus (text exposition with ms timestamps: VictoriaMetrics /api/v1/import/prometheus).
--post URL sends the prometheus format there in chunks instead of writing --out.
Prints one JSON line: {"series": .., "samples": .., "edges": .., "now": ..}.
"""
import argparse
import json
import sys
import urllib.request

STEP = 120
STEPS = 3
BASE = 1_000_000


def edges(n, k):
    step = max(1, n // k)
    for i in range(n):
        for j in range(k):
            yield i, (i + 1 + j * step) % n


def svc(i):
    return f"svc-{i:04d}"


class Out:
    def __init__(self, fmt, sink):
        self.fmt, self.sink, self.series, self.samples = fmt, sink, 0, 0
        self.buf = []

    def family(self, name, typ):
        self.buf.append(f"# TYPE {name} {typ}\n")

    def series_(self, name, labels, values, now):
        lab = ",".join(f'{k}="{v}"' for k, v in labels)
        self.series += 1
        for s, v in enumerate(values):
            t = now - (STEPS - 1 - s) * STEP
            ts = f"{t}" if self.fmt == "openmetrics" else f"{t * 1000}"
            self.buf.append(f"{name}{{{lab}}} {v} {ts}\n")
            self.samples += 1
        if len(self.buf) > 200_000:
            self.flush()

    def flush(self, end=False):
        if end and self.fmt == "openmetrics":
            self.buf.append("# EOF\n")
        if self.buf:
            self.sink("".join(self.buf))
            self.buf = []


def histogram(out, name, labels, bounds, lo_index, per_step, mid, now):
    """Every observation in bucket (bounds[lo_index-1], bounds[lo_index]]."""
    counts = [BASE // 100 + s * per_step for s in range(STEPS)]
    for bi, le in enumerate(bounds):
        vals = counts if bi >= lo_index else [0] * STEPS
        out.series_(f"{name}_bucket", labels + [("le", le)], vals, now)
    out.series_(f"{name}_bucket", labels + [("le", "+Inf")], counts, now)
    out.series_(f"{name}_count", labels, counts, now)
    out.series_(f"{name}_sum", labels, [round(c * mid, 6) for c in counts], now)


def generate(n, k, now, out):
    es = list(edges(n, k))
    graph = [("client", None), ("server", None), ("connection_type", "")]

    def glabels(a, b):
        return [("client", svc(a)), ("server", svc(b)), ("connection_type", "")]

    out.family("traces_service_graph_request", "counter")
    for a, b in es:
        out.series_("traces_service_graph_request_total", glabels(a, b),
                    [BASE + s * 600 for s in range(STEPS)], now)
    out.family("traces_service_graph_request_failed", "counter")
    first = es[0]
    for a, b in es:
        per = 180 if (a, b) == first else 6
        out.series_("traces_service_graph_request_failed_total", glabels(a, b),
                    [BASE + s * per for s in range(STEPS)], now)
    for side, lo, mid in (("client", 2, 0.075), ("server", 1, 0.0375)):
        name = f"traces_service_graph_request_{side}_seconds"
        out.family(name, "histogram")
        bounds = ["0.025", "0.05", "0.1", "0.25", "1"]
        for a, b in es:
            histogram(out, name, glabels(a, b), bounds, lo, 600, mid, now)
    del graph

    out.family("traces_span_metrics_calls", "counter")

    def slabels(i, kind, status, peer):
        return [("service_name", svc(i)), ("span_name", "SELECT orders"), ("span_kind", kind),
                ("status_code", status)] + peer

    def db(i):
        return [("db_system", "postgresql"), ("server_address", f"db-{i:04d}"), ("db_name", "orders")]

    for i in range(n):
        for status, per in (("STATUS_CODE_UNSET", 120), ("STATUS_CODE_ERROR", 3)):
            out.series_("traces_span_metrics_calls_total", slabels(i, "SPAN_KIND_CLIENT", status, db(i)),
                        [BASE + s * per for s in range(STEPS)], now)
        out.series_("traces_span_metrics_calls_total",
                    slabels(i, "SPAN_KIND_SERVER", "STATUS_CODE_UNSET", []),
                    [BASE + s * 999 for s in range(STEPS)], now)
    out.series_("traces_span_metrics_calls_total",
                slabels(0, "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET", [("peer_service", svc(first[1]))]),
                [BASE + s * 50 for s in range(STEPS)], now)
    name = "traces_span_metrics_duration_milliseconds"
    out.family(name, "histogram")
    for i in range(n):
        histogram(out, name, slabels(i, "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET", db(i)),
                  ["5", "10", "25", "50", "100"], 2, 120, 17.5, now)
    out.flush(end=True)
    return len(es) + n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--services", type=int, default=2000)
    p.add_argument("--fanout", type=int, default=10)
    p.add_argument("--now", type=int, required=True)
    p.add_argument("--format", choices=["openmetrics", "prometheus"], default="openmetrics")
    p.add_argument("--out")
    p.add_argument("--post")
    a = p.parse_args()
    if a.post:
        def sink(text):
            req = urllib.request.Request(a.post, data=text.encode(), method="POST")
            with urllib.request.urlopen(req, timeout=120) as r:
                if r.status // 100 != 2:
                    sys.exit(f"fleet_gen: {a.post}: HTTP {r.status}")
        out = Out("prometheus", sink)
    else:
        f = open(a.out, "w")
        out = Out(a.format, f.write)
    n_edges = generate(a.services, a.fanout, a.now, out)
    print(json.dumps({"series": out.series, "samples": out.samples, "edges": n_edges, "now": a.now}))


if __name__ == "__main__":
    main()
