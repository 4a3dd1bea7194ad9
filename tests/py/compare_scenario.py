"""Traces for `faultline compare` and the service map (tests/compare_cli.rs, tests/views_tmux.rs).

Every service has its own TracerProvider (its own `service.name` resource) exporting with the
real OTLP gRPC exporter to ENDPOINT; context passes in process, so each request is one trace
across services. Span times are set explicitly (start_time / end_time), so the durations are
exact and the test can assert the deltas.

    compare_scenario.py ENDPOINT TRUTH.json

Requests (milliseconds from the request's start):

  normal   frontend GET /checkout 0..100
             frontend GET /cart 5..25   → cart GET /cart 6..24
             frontend POST /pay 30..90  → payments POST /pay 32..88
  slow     frontend GET /checkout 0..700
             (no cart call: missing)
             frontend POST /pay 30..430 → payments POST /pay 32..428   (error: timed out)
             frontend POST /pay 440..680 → payments POST /pay 442..678 (the retry: added)
             frontend POST /check 681..695 → fraud POST /check 682..694 (added)
  wide     gateway GET /all 0..50 calling svc-01 … svc-12 (a layer too tall for 80×24)
"""

import json
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000
PROVIDERS = {}


def tracer(service, endpoint):
    if service not in PROVIDERS:
        tp = TracerProvider(resource=Resource.create({"service.name": service}))
        exp = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=20)
        tp.add_span_processor(BatchSpanProcessor(exp, schedule_delay_millis=100))
        PROVIDERS[service] = tp
    return PROVIDERS[service].get_tracer(service)


def span(ep, service, name, kind, parent, t0, start_ms, end_ms, attrs=None, error=None):
    ctx = trace.set_span_in_context(parent) if parent is not None else None
    s = tracer(service, ep).start_span(
        name, context=ctx, kind=kind, start_time=t0 + start_ms * MS, attributes=attrs or {}
    )
    if error:
        s.set_status(Status(StatusCode.ERROR, error))
        s.set_attribute("error.type", "timeout")
    return s


def end(s, t0, end_ms):
    s.end(end_time=t0 + end_ms * MS)


def call(ep, caller, callee, method, route, parent, t0, a, b, error=None):
    """A CLIENT span of `caller` and the SERVER span of `callee` 1 ms inside it."""
    attrs = {"http.request.method": method, "server.address": callee, "url.full": f"http://{callee}{route}"}
    c = span(ep, caller, f"{method} {route}", SpanKind.CLIENT, parent, t0, a, b, attrs, error)
    srv = span(ep, callee, f"{method} {route}", SpanKind.SERVER, c, t0, a + 1, b - 1,
               {"http.request.method": method, "http.route": route}, error)
    end(srv, t0, b - 1)
    end(c, t0, b)


def main():
    ep, truth_path = sys.argv[1], sys.argv[2]
    ep = ep.removeprefix("http://")
    now = time.time_ns()
    ids = {}

    t0 = now - 60_000 * MS
    root = span(ep, "frontend", "GET /checkout", SpanKind.SERVER, None, t0, 0, 100)
    call(ep, "frontend", "cart", "GET", "/cart", root, t0, 5, 25)
    call(ep, "frontend", "payments", "POST", "/pay", root, t0, 30, 90)
    end(root, t0, 100)
    ids["normal"] = format(root.get_span_context().trace_id, "032x")

    t0 = now - 30_000 * MS
    root = span(ep, "frontend", "GET /checkout", SpanKind.SERVER, None, t0, 0, 700)
    call(ep, "frontend", "payments", "POST", "/pay", root, t0, 30, 430, error="timed out")
    call(ep, "frontend", "payments", "POST", "/pay", root, t0, 440, 680)
    call(ep, "frontend", "fraud", "POST", "/check", root, t0, 681, 695)
    end(root, t0, 700)
    ids["slow"] = format(root.get_span_context().trace_id, "032x")

    t0 = now - 10_000 * MS
    root = span(ep, "gateway", "GET /all", SpanKind.SERVER, None, t0, 0, 50)
    for i in range(1, 13):
        call(ep, "gateway", f"svc-{i:02}", "GET", "/part", root, t0, i, i + 30)
    end(root, t0, 50)
    ids["wide"] = format(root.get_span_context().trace_id, "032x")

    ok = all(tp.force_flush(30_000) for tp in PROVIDERS.values())
    for tp in PROVIDERS.values():
        tp.shutdown()
    with open(truth_path, "w") as f:
        json.dump(ids, f)
    if not ok:
        print("flush failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
