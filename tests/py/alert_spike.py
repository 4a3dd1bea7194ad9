#!/usr/bin/env python3
"""A `checkout` service traced with the real OpenTelemetry Python SDK, whose calls to `payments`
go through an error spike; for tests/alerts_real.rs.

    alert_spike.py ENDPOINT [--history-min 15] [--rate 20] [--spike-after 5] [--spike-s 60]
                            [--max-s 400] [--seed 1]

ENDPOINT is an OTLP/gRPC address (127.0.0.1:4317). checkout calls two dependencies, `rate`
times a second each (CLIENT spans named by `peer.service`, HTTP semantic conventions):

    payments  fails 1 % of its calls, except for `spike-s` seconds starting `spike-after`
              seconds into the live phase, when it fails 25 % (HTTP 503)
    ledger    always fails 30 % of its calls (its normal: it must never alert)

First `history-min` minutes of the same traffic are exported with past timestamps (the SDK
takes explicit start and end times), so the dependencies have a trailing baseline when the live
phase starts; then calls are made in real time until stdin closes (the test's signal) or
`max-s` seconds pass. Prints `alert_spike: spike start NS` / `spike end NS` (Unix ns) on
stderr. Exits non-zero if any export failed or any span was dropped.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time

from opentelemetry import context as otel_context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000


class Ledger:
    """Counts exported spans and failed export calls."""

    def __init__(self, inner):
        self.inner, self.items, self.failures = inner, 0, 0
        self.lock = threading.Lock()

    def export(self, spans):
        r = self.inner.export(spans)
        with self.lock:
            if r == SpanExportResult.SUCCESS:
                self.items += len(spans)
            else:
                self.failures += 1
        return r

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis=30_000):
        return self.inner.force_flush(timeout_millis)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--history-min", type=float, default=15)
    ap.add_argument("--rate", type=int, default=20)
    ap.add_argument("--spike-after", type=float, default=5)
    ap.add_argument("--spike-s", type=float, default=60)
    ap.add_argument("--max-s", type=float, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    exporter = Ledger(OTLPSpanExporter(endpoint=args.endpoint, insecure=True, timeout=60))
    tp = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    tp.add_span_processor(BatchSpanProcessor(
        exporter, max_queue_size=1_000_000, max_export_batch_size=512, schedule_delay_millis=250))
    tracer = tp.get_tracer("faultline.alert_spike", "1.0")
    spans = 0

    def call(dep: str, start_ns: int, fail: bool):
        nonlocal spans
        dur = int(rng.uniform(5, 40) * MS)
        s = tracer.start_span(
            "POST /charge" if dep == "payments" else "POST /entries",
            context=otel_context.Context(), kind=SpanKind.CLIENT, start_time=start_ns,
            attributes={
                "peer.service": dep,
                "http.request.method": "POST",
                "server.address": dep + ".internal",
                "server.port": 8080,
                "http.response.status_code": 503 if fail else 200,
            })
        if fail:
            s.set_status(Status(StatusCode.ERROR, "503 Service Unavailable"))
        s.end(end_time=start_ns + dur)
        spans += 1

    def traffic(t_ns: int, payments_err: float):
        call("payments", t_ns, rng.random() < payments_err)
        call("ledger", t_ns + 3 * MS, rng.random() < 0.30)

    # History: the same traffic over the past minutes, with past timestamps.
    step = 1_000_000_000 // args.rate
    now = time.time_ns()
    t = now - int(args.history_min * 60e9)
    while t < now:
        traffic(t, 0.01)
        t += step
    tp.force_flush(timeout_millis=60_000)
    print(f"alert_spike: history done ({spans} spans)", file=sys.stderr, flush=True)

    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    live_start = time.time_ns()
    spike_from = live_start + int(args.spike_after * 1e9)
    spike_to = spike_from + int(args.spike_s * 1e9)
    print(f"alert_spike: spike start {spike_from}", file=sys.stderr, flush=True)
    print(f"alert_spike: spike end {spike_to}", file=sys.stderr, flush=True)
    deadline = live_start + int(args.max_s * 1e9)
    nxt = live_start
    while not stop.is_set() and time.time_ns() < deadline:
        t = time.time_ns()
        traffic(t, 0.25 if spike_from <= t < spike_to else 0.01)
        nxt += step
        delay = (nxt - time.time_ns()) / 1e9
        if delay > 0:
            stop.wait(delay)

    ok = tp.force_flush(timeout_millis=60_000)
    tp.shutdown()
    problems = []
    if not ok:
        problems.append("force_flush timed out")
    if exporter.failures:
        problems.append(f"{exporter.failures} export calls failed")
    if exporter.items != spans:
        problems.append(f"exported {exporter.items} of {spans} spans")
    if problems:
        print("alert_spike: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"alert_spike: {spans} spans exported", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
