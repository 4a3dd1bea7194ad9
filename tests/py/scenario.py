#!/usr/bin/env python3
"""A small multi-service shop traced with the real OpenTelemetry Python SDK.

    scenario.py EXPORTER ENDPOINT TRUTH_JSON [--compression gzip|none] [--traces N] [--seed S]

EXPORTER is `grpc` (OTLP/gRPC, ENDPOINT like 127.0.0.1:4317) or `http` (OTLP/HTTP protobuf,
ENDPOINT like http://127.0.0.1:4318). An `https://` ENDPOINT exports over TLS, configured by the
standard OTEL_EXPORTER_OTLP_CERTIFICATE / _CLIENT_CERTIFICATE / _CLIENT_KEY variables. Every service has its own TracerProvider (its own
`service.name` resource, BatchSpanProcessor and exporter), so the spans of one trace reach the
receiver in different requests; the deepest services flush first, so children arrive before
their parents.

    frontend  --http(new semconv, SERVER child)-->  checkout --http--> payments --http--> api.bank.example
              --http(old semconv, SERVER child)-->  inventory --db(old semconv)--> redis cache-1
              --http(peer.service)-->               recommendations
              --http(url.full only)-->              cdn.example.net
    checkout  --db(new semconv)--> postgresql orders-db/orders
              --rpc--> fraud.v1.FraudService
              --PRODUCER--> kafka order-events

Every span has explicit start and end timestamps, so the scenario knows every latency exactly.
Leaf calls draw latencies from seeded distributions with known tails (log-normal, exponential,
uniform, bimodal with a timeout mode, Pareto tails); a call with a server side lasts as long
as the server's own work plus its children plus the network, so spans nest as real ones do.
Then, per edge, the few samples around the ranks of p50, p95 and p99 are raised to one value,
so that every usual quantile definition (nearest rank, interpolation, q*n or q*(n-1)) gives
the same answer, and a receiver's percentile can be compared with the truth within the
sketch's relative error alone. The truth is written to TRUTH_JSON:

    {"traces": N, "spans": S, "edges": [{"caller", "dependency", "match": "exact"|"contains",
      "contains": [...], "kind", "calls", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms"}]}

`match: contains` means faultline derives the dependency's name from attributes; the test
checks only that the name contains every string in `contains` (DESIGN.md fixes which
attributes count, not the spelling). `match: exact` edges have a SERVER child (or
`peer.service`), whose name is fixed.

Exits non-zero if any export failed or any span was dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000  # ns per ms
US = 1_000  # ns per us

QUANTILES = (0.50, 0.95, 0.99)
FLAT = 3  # ranks on each side of a quantile's rank that get one value


# ----------------------------------------------------------------------------- distributions
# Each returns a function of a random.Random giving milliseconds.
def lognormal(median_ms, sigma):
    return lambda r: r.lognormvariate(math.log(median_ms), sigma)


def pareto_tail(body, share, lo_ms, alpha):
    """`share` of the samples come from a Pareto tail starting at lo_ms (shape alpha)."""
    return lambda r: lo_ms * r.paretovariate(alpha) if r.random() < share else body(r)


def bimodal(body, share, mode_ms, spread):
    """`share` of the samples sit around mode_ms (a timeout, a lock), the rest follow body."""
    return lambda r: r.gauss(mode_ms, mode_ms * spread) if r.random() < share else body(r)


def exponential(mean_ms, offset_ms):
    return lambda r: offset_ms + r.expovariate(1.0 / mean_ms)


def uniform(lo_ms, hi_ms):
    return lambda r: r.uniform(lo_ms, hi_ms)


def us(r, dist, cap_ms, floor_us=50):
    """One draw, in whole microseconds, bounded to [floor_us, cap_ms]."""
    return max(floor_us, min(int(round(dist(r) * 1000)), int(cap_ms * 1000)))


# Leaf latencies and the servers' own work (milliseconds; caps keep the tails plausible).
D = {
    "cdn": (lognormal(8.0, 0.25), 200.0),
    "recs": (uniform(20.0, 60.0), 100.0),
    "redis": (exponential(0.5, 0.15), 50.0),
    "inventory_self": (lognormal(12.0, 0.6), 1500.0),
    "db": (exponential(4.0, 0.6), 500.0),
    "kafka": (lognormal(2.0, 0.3), 100.0),
    "fraud": (pareto_tail(lognormal(15.0, 0.3), 0.02, 60.0, 1.3), 1500.0),
    "bank": (pareto_tail(lognormal(150.0, 0.3), 0.05, 400.0, 2.5), 8000.0),
    "payments_self": (bimodal(lognormal(30.0, 0.5), 0.04, 1000.0, 0.05), 3000.0),
    "checkout_self": (lognormal(8.0, 0.4), 400.0),
    "net": (uniform(0.3, 1.5), 5.0),
}

# edge -> (caller, dependency or None, contains, kind)
EDGES = {
    "fe_checkout": ("frontend", "checkout", ["checkout"], "http"),
    "fe_inventory": ("frontend", "inventory", ["inventory"], "http"),
    "fe_recs": ("frontend", "recommendations", ["recommendations"], "http"),
    "fe_cdn": ("frontend", None, ["cdn.example.net"], "http"),
    "co_payments": ("checkout", "payments", ["payments"], "http"),
    "co_db": ("checkout", None, ["postgresql", "orders-db", "orders"], "db"),
    "co_kafka": ("checkout", None, ["kafka", "order-events"], "messaging"),
    "co_fraud": ("checkout", None, ["FraudService"], "rpc"),
    "inv_redis": ("inventory", None, ["redis", "cache-1"], "db"),
    "pay_bank": ("payments", None, ["api.bank.example"], "http"),
}


class Call:
    """One client call: its latency (us) and its outcome; `bump` raises the latency."""

    __slots__ = ("edge", "dur", "err", "code", "kids", "self_us", "net")

    def __init__(self, edge, dur=0, err=False, code=None):
        self.edge, self.dur, self.err, self.code = edge, dur, err, code
        self.kids, self.self_us, self.net = [], 0, 0


def flatten(calls: list[Call]):
    """Give the calls around each quantile's rank the same latency by raising the lower ones
    to the top of the window. Only raises, so a caller's latency still covers its callees
    (the raise is the server's own work), and the order of values is kept."""
    n = len(calls)
    order = sorted(calls, key=lambda c: c.dur)
    for q in QUANTILES:
        k = round(q * (n - 1))
        lo, hi = max(0, k - FLAT), min(n - 2, k + FLAT)  # keep the maximum out of it
        top = order[hi].dur
        for c in order[lo:hi + 1]:
            c.self_us += top - c.dur
            c.dur = top


def nearest_rank(sorted_vals, q):
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


class SeededIds(IdGenerator):
    def __init__(self, rng):
        self.rng = rng

    def generate_span_id(self):
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.rng.getrandbits(128) or 1


# ----------------------------------------------------------------------------- the plan
def plan_traces(rng: random.Random, n_traces: int):
    """All numbers of all traces, before any span exists. Returns (traces, calls by edge)."""
    by_edge = {e: [] for e in EDGES}

    def leaf(edge, dist, err_p=0.0):
        c = Call(edge, us(rng, *D[dist]), rng.random() < err_p)
        by_edge[edge].append(c)
        return c

    traces = []
    for i in range(n_traces):
        t = {}
        t["cdn"] = leaf("fe_cdn", "cdn") if i % 5 != 0 else None
        t["recs"] = leaf("fe_recs", "recs") if i % 2 == 0 else None
        if i % 3 != 2:
            inv = Call("fe_inventory", err=rng.random() < 0.05)
            inv.kids = [leaf("inv_redis", "redis") for _ in range(1 + i % 2)]
            inv.self_us = us(rng, *D["inventory_self"])
            inv.net = us(rng, *D["net"])
            inv.dur = inv.net + inv.self_us + sum(k.dur + 20 for k in inv.kids)
            by_edge["fe_inventory"].append(inv)
            t["inventory"] = inv
        else:
            t["inventory"] = None
        # checkout's calls run concurrently: payments (-> bank), the queries in a row, fraud,
        # kafka.
        bank = leaf("pay_bank", "bank", 0.04)
        pay = Call("co_payments")
        pay.kids = [bank]
        pay.self_us = us(rng, *D["payments_self"])
        pay.net = us(rng, *D["net"])
        pay.dur = pay.net + pay.self_us + bank.dur
        pay.err = pay.self_us >= 900_000 or rng.random() < 0.02  # the ~1 s mode is a timeout
        by_edge["co_payments"].append(pay)
        t["payments"] = pay
        t["db"] = [leaf("co_db", "db", 0.02) for _ in range(1 + i % 3)]
        if i % 4 != 3:
            f = leaf("co_fraud", "fraud")
            u = rng.random()
            # Non-OK gRPC status is an error whether or not the span status says so.
            f.code = 14 if u < 0.03 else (4 if u < 0.05 else 0)
            f.err = f.code != 0
            t["fraud"] = f
        else:
            t["fraud"] = None
        t["kafka"] = leaf("co_kafka", "kafka")
        co = Call("fe_checkout", err=rng.random() < 0.03)
        co.kids = [k for k in [pay, t["fraud"], t["kafka"]] if k] + t["db"]
        co.self_us = us(rng, *D["checkout_self"])
        co.net = us(rng, *D["net"])
        traces.append(t)
        t["checkout"] = co
        by_edge["fe_checkout"].append(co)

    # Leaves first, then the calls that contain them.
    for e in ("fe_cdn", "fe_recs", "inv_redis", "co_db", "co_kafka", "co_fraud", "pay_bank"):
        flatten(by_edge[e])
    for inv in by_edge["fe_inventory"]:
        inv.dur = inv.net + inv.self_us + sum(k.dur + 20 for k in inv.kids)
    flatten(by_edge["fe_inventory"])
    for pay in by_edge["co_payments"]:
        pay.dur = pay.net + pay.self_us + pay.kids[0].dur + 100
    flatten(by_edge["co_payments"])
    for t in traces:
        co = t["checkout"]
        db_total = sum(q.dur + 30 for q in t["db"]) + 50
        longest = max([db_total, t["payments"].dur + 300, t["kafka"].dur + 120]
                      + ([t["fraud"].dur + 80] if t["fraud"] else []))
        co.dur = co.net + co.self_us + longest
    flatten(by_edge["fe_checkout"])
    # flatten() raised self_us; inventory/payments/checkout durations already include it.
    for e, calls in by_edge.items():
        if len(calls) < 200:
            raise SystemExit(f"scenario.py: edge {e} has only {len(calls)} calls; use --traces >= 600")
    return traces, by_edge


# ----------------------------------------------------------------------------- exporters
def make_exporters(kind, endpoint, gzip):
    if kind == "grpc":
        from grpc import Compression as GC

        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        comp = GC.Gzip if gzip else GC.NoCompression
        # https://HOST:PORT: TLS, with OTEL_EXPORTER_OTLP_CERTIFICATE (and _CLIENT_CERTIFICATE /
        # _CLIENT_KEY for mutual TLS) read by the exporter itself, as in production.
        tls = endpoint.startswith("https://")
        ep = endpoint.removeprefix("https://").removeprefix("http://")
        kw = dict(endpoint=ep, insecure=not tls, compression=comp, timeout=20)
        return (lambda: OTLPSpanExporter(**kw), lambda: OTLPMetricExporter(**kw),
                lambda: OTLPLogExporter(**kw))
    if kind == "http":
        from opentelemetry.exporter.otlp.proto.http import Compression as HC
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        comp = HC.Gzip if gzip else HC.NoCompression
        base = (endpoint if endpoint.startswith("http") else "http://" + endpoint).rstrip("/")
        return (
            lambda: OTLPSpanExporter(endpoint=base + "/v1/traces", compression=comp, timeout=20),
            lambda: OTLPMetricExporter(endpoint=base + "/v1/metrics", compression=comp, timeout=20),
            lambda: OTLPLogExporter(endpoint=base + "/v1/logs", compression=comp, timeout=20),
        )
    raise SystemExit(f"scenario.py: unknown exporter {kind!r} (grpc|http)")


class ExportLedger:
    """Wraps an exporter's export() to count what was sent and whether all of it succeeded."""

    def __init__(self):
        self.calls = self.failures = self.items = 0

    def wrap(self, exporter):
        inner = exporter.export

        def export(batch, *a, **kw):
            res = inner(batch, *a, **kw)
            self.calls += 1
            try:
                n = len(batch)
            except TypeError:  # metrics: one MetricsData
                n = 0
            if getattr(res, "name", "") == "SUCCESS":
                self.items += n
            else:
                self.failures += 1
                print(f"scenario.py: export of {n} items failed: {res}", file=sys.stderr)
            return res

        exporter.export = export
        return exporter


# ----------------------------------------------------------------------------- emitting
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("exporter", choices=["grpc", "http"])
    ap.add_argument("endpoint")
    ap.add_argument("truth")
    ap.add_argument("--compression", choices=["gzip", "none"], default="none")
    ap.add_argument("--traces", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20261101)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    traces, by_edge = plan_traces(rng, args.traces)

    span_exp, metric_exp, log_exp = make_exporters(args.exporter, args.endpoint, args.compression == "gzip")
    ledger = ExportLedger()
    ids = SeededIds(random.Random(args.seed + 1))
    providers, tracers = {}, {}
    for svc in ("frontend", "checkout", "payments", "inventory"):
        res = Resource.create({"service.name": svc, "service.namespace": "shop",
                               "deployment.environment.name": "faultline-test"})
        tp = TracerProvider(resource=res, id_generator=ids)
        tp.add_span_processor(BatchSpanProcessor(
            ledger.wrap(span_exp()),
            max_queue_size=1_000_000,  # never drop: the test counts every span
            max_export_batch_size=97,  # odd size: a trace's spans straddle batches
            schedule_delay_millis=250,
        ))
        providers[svc], tracers[svc] = tp, tp.get_tracer("faultline.scenario", "1.0")

    n_spans = 0

    def start(svc, name, kind, t, parent=None, attrs=None, status=None):
        nonlocal n_spans
        ctx = trace.set_span_in_context(parent) if parent is not None else otel_context.Context()
        s = tracers[svc].start_span(name, context=ctx, kind=kind, attributes=attrs or {}, start_time=t)
        if status is not None:
            s.set_status(status)
        n_spans += 1
        return s

    def err_status(c, msg="error"):
        return Status(StatusCode.ERROR, msg) if c.err else None

    # One trace every 400 ms, all of them ending about a minute before now.
    t0 = time.time_ns() - (len(traces) * 400 + 60_000) * MS
    for i, t in enumerate(traces):
        ts = t0 + i * 400 * MS
        root = start("frontend", "GET /checkout", SpanKind.SERVER, ts, attrs={
            "http.request.method": "GET", "url.path": "/checkout", "http.route": "/checkout"})
        cur = ts + 1 * MS  # the frontend calls one service after another

        if t["cdn"]:
            c = t["cdn"]
            s = start("frontend", "GET", SpanKind.CLIENT, cur, root, {
                "http.request.method": "GET",  # url.full only: the dependency is its host
                "url.full": "https://cdn.example.net/assets/app.js?v=7",
                "http.response.status_code": 200})
            s.end(end_time=cur + c.dur * US)
            cur += (c.dur + 200) * US

        if t["recs"]:
            c = t["recs"]
            s = start("frontend", "HTTP GET", SpanKind.CLIENT, cur, root, {
                "http.method": "GET",  # old semconv; peer.service wins over net.peer.name
                "http.url": "http://10.0.0.7:8000/recommendations?user=42",
                "net.peer.name": "10.0.0.7", "net.peer.port": 8000,
                "peer.service": "recommendations", "http.status_code": 200})
            s.end(end_time=cur + c.dur * US)
            cur += (c.dur + 200) * US

        if t["inventory"]:
            c = t["inventory"]
            code = 502 if c.err else 200  # >= 500 with status UNSET: still an error (issue #2)
            s = start("frontend", "HTTP GET", SpanKind.CLIENT, cur, root, {
                "http.method": "GET", "http.url": "http://inventory:8081/stock/sku-1",
                "net.peer.name": "inventory", "net.peer.port": 8081, "http.status_code": code})
            s_start = cur + (c.net // 2) * US
            s_end = cur + (c.dur - c.net // 2) * US
            srv = start("inventory", "GET /stock/{sku}", SpanKind.SERVER, s_start, s, {
                "http.method": "GET", "http.target": "/stock/sku-1", "http.route": "/stock/{sku}",
                "http.status_code": code})
            rc = s_start + c.self_us // 2 * US
            for r in c.kids:
                q = start("inventory", "GET", SpanKind.CLIENT, rc, srv, {
                    "db.system": "redis",  # old semconv, no server side
                    "net.peer.name": "cache-1", "net.peer.port": 6379,
                    "db.statement": "GET stock:sku-1"})
                q.end(end_time=rc + r.dur * US)
                rc += (r.dur + 20) * US
            srv.end(end_time=s_end)
            s.end(end_time=cur + c.dur * US)
            cur += (c.dur + 200) * US

        # frontend -> checkout, new semconv, with a SERVER child in `checkout`.
        c = t["checkout"]
        code = 503 if c.err else 200
        cs = start("frontend", "POST", SpanKind.CLIENT, cur, root, {
            "http.request.method": "POST", "server.address": "checkout", "server.port": 8080,
            "url.full": "http://checkout:8080/api/checkout", "http.response.status_code": code,
        }, err_status(c, "503 Service Unavailable"))
        s_start = cur + (c.net // 2) * US
        s_end = cur + (c.dur - c.net // 2) * US
        co = start("checkout", "POST /api/checkout", SpanKind.SERVER, s_start, cs, {
            "http.request.method": "POST", "url.path": "/api/checkout",
            "http.route": "/api/checkout", "http.response.status_code": code}, err_status(c))
        c0 = s_start  # checkout's calls start together

        p = t["payments"]
        pcode = 503 if p.err else 201
        pc = start("checkout", "POST", SpanKind.CLIENT, c0 + 300 * US, co, {
            "http.request.method": "POST", "server.address": "payments", "server.port": 8443,
            "url.full": "https://payments:8443/v2/charge", "http.response.status_code": pcode,
            **({"error.type": "503"} if p.err else {}),
        }, Status(StatusCode.ERROR) if p.err else Status(StatusCode.OK))
        p_start = c0 + (300 + p.net // 2) * US
        p_end = c0 + (300 + p.dur - p.net // 2) * US
        ps = start("payments", "POST /v2/charge", SpanKind.SERVER, p_start, pc, {
            "http.request.method": "POST", "http.route": "/v2/charge",
            "http.response.status_code": pcode}, err_status(p))
        b = p.kids[0]
        b_start = p_start + 50 * US
        bs = start("payments", "POST", SpanKind.CLIENT, b_start, ps, {
            "http.request.method": "POST", "server.address": "api.bank.example", "server.port": 443,
            "url.full": "https://api.bank.example/v1/charges",
            "http.response.status_code": 500 if b.err else 200}, err_status(b, "bank said no"))
        bs.end(end_time=b_start + b.dur * US)
        ps.end(end_time=p_end)
        pc.end(end_time=c0 + (300 + p.dur) * US)

        qc = c0 + 50 * US
        for q in t["db"]:
            qs = start("checkout", "SELECT orders", SpanKind.CLIENT, qc, co, {
                "db.system.name": "postgresql", "server.address": "orders-db", "server.port": 5432,
                "db.namespace": "orders", "db.operation.name": "SELECT",
                "db.collection.name": "orders",
                **({"error.type": "40P01", "db.response.status_code": "40P01"} if q.err else {}),
            }, err_status(q, "deadlock detected"))
            qs.end(end_time=qc + q.dur * US)
            qc += (q.dur + 30) * US

        if t["fraud"]:
            f = t["fraud"]
            fs = start("checkout", "fraud.v1.FraudService/Check", SpanKind.CLIENT, c0 + 80 * US, co, {
                "rpc.system": "grpc", "rpc.service": "fraud.v1.FraudService", "rpc.method": "Check",
                "server.address": "fraud", "server.port": 50051, "rpc.grpc.status_code": f.code,
            }, Status(StatusCode.ERROR, "UNAVAILABLE") if f.code == 14 else None)  # 4: UNSET
            fs.end(end_time=c0 + (80 + f.dur) * US)

        k = t["kafka"]
        ks = start("checkout", "publish order-events", SpanKind.PRODUCER, c0 + 120 * US, co, {
            "messaging.system": "kafka", "messaging.destination.name": "order-events",
            "messaging.operation.type": "send", "server.address": "kafka-1", "server.port": 9092})
        ks.end(end_time=c0 + (120 + k.dur) * US)

        co.end(end_time=s_end)
        cs.end(end_time=cur + c.dur * US)
        cur += (c.dur + 500) * US
        root.end(end_time=cur)

    # The deepest services flush first, so parents arrive in later requests than children.
    ok = True
    for svc in ("payments", "inventory", "checkout", "frontend"):
        ok &= providers[svc].force_flush(timeout_millis=60_000)
    for svc in ("payments", "inventory", "checkout", "frontend"):
        providers[svc].shutdown()

    # A few metrics and logs through the same exporter kind (MetricsService / LogsService).
    metric_ledger, log_ledger = ExportLedger(), ExportLedger()
    _export_metrics(metric_ledger.wrap(metric_exp()))
    logs_sent = _export_logs(log_ledger.wrap(log_exp()))

    edges = []
    for name, (caller, dep, contains, kind) in EDGES.items():
        calls = by_edge[name]
        vals = sorted(c.dur for c in calls)
        edges.append({
            "edge": name, "caller": caller, "dependency": dep,
            "match": "exact" if dep else "contains", "contains": contains, "kind": kind,
            "calls": len(vals), "errors": sum(c.err for c in calls),
            "p50_ms": nearest_rank(vals, 0.50) / 1000.0,
            "p95_ms": nearest_rank(vals, 0.95) / 1000.0,
            "p99_ms": nearest_rank(vals, 0.99) / 1000.0,
            "max_ms": vals[-1] / 1000.0, "min_ms": vals[0] / 1000.0,
        })
    truth = {
        "scenario": "python", "exporter": args.exporter, "compression": args.compression,
        "seed": args.seed, "traces": len(traces), "spans": n_spans,
        "spans_exported": ledger.items, "span_export_calls": ledger.calls,
        "metric_export_calls": metric_ledger.calls,
        "metric_names": ["shop.orders", "shop.checkout.duration", "shop.queue.depth"],
        "log_export_calls": log_ledger.calls, "logs": logs_sent,
        "edges": edges,
    }
    with open(args.truth, "w") as f:
        json.dump(truth, f, indent=1)

    failed = []
    if not ok:
        failed.append("force_flush timed out")
    bad = ledger.failures + metric_ledger.failures + log_ledger.failures
    if bad:
        failed.append(f"{bad} export calls failed")
    if ledger.items != n_spans:
        failed.append(f"exported {ledger.items} of {n_spans} spans")
    if metric_ledger.calls == 0 or log_ledger.items != logs_sent:
        failed.append(f"metrics: {metric_ledger.calls} export calls; logs: {log_ledger.items}/{logs_sent}")
    if failed:
        print("scenario.py: FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    print(f"scenario.py: {len(traces)} traces, {n_spans} spans in {ledger.calls} requests "
          f"({args.exporter}, {args.compression}); truth in {args.truth}", file=sys.stderr)
    return 0


def _export_metrics(exporter):
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    mp = MeterProvider(resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader])
    meter = mp.get_meter("faultline.scenario", "1.0")
    orders = meter.create_counter("shop.orders", unit="{order}")
    dur = meter.create_histogram("shop.checkout.duration", unit="ms")
    meter.create_observable_gauge("shop.queue.depth",
                                  callbacks=[lambda _o: [Observation(7, {"queue": "orders"})]])
    for i in range(50):
        orders.add(1, {"outcome": "ok" if i % 10 else "error"})
        dur.record(10.0 + i, {"route": "/api/checkout"})
    mp.force_flush(timeout_millis=30_000)
    mp.shutdown()


def _export_logs(exporter):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    lp = LoggerProvider(resource=Resource.create({"service.name": "payments"}))
    lp.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=100))
    logger = lp.get_logger("faultline.scenario")
    n = 5
    for i in range(n):
        logger.emit(timestamp=time.time_ns(), severity_number=SeverityNumber.WARN,
                    severity_text="WARN", body=f"breaker payments->bank half-open probe {i}",
                    attributes={"breaker.name": "bank"})
    lp.force_flush()
    lp.shutdown()
    return n


if __name__ == "__main__":
    sys.exit(main())
