"""checkout -> payments with real libraries, for tests/dashboard_agreement.rs. Binds 127.0.0.1 only.

- Traces: the OpenTelemetry Python SDK exporting OTLP/HTTP to `faultline record`. checkout
  calls payments with `requests`; `tenacity` retries a 503 (wait_fixed, at most 3 attempts)
  and nothing marks a resend (no http.request.resend_count): retries are only visible as
  failed sibling attempts under one logical-call span.
- Breaker: a real `pybreaker` breaker around each logical call; a listener exports its state
  with prometheus_client under resilience4j's name (one-hot
  resilience4j_circuitbreaker_state{name="payments",state}), and calls it rejects count in
  resilience4j_circuitbreaker_not_permitted_calls_total.

Phases: 300 logical calls, of which 60 fail once and 30 fail twice before succeeding (the
breaker stays closed); then payments fails every attempt: 3 logical calls fail after 3
attempts each, the breaker opens and rejects the 5 calls after (no HTTP request, no client span).
The breaker stays open (reset timeout 10 minutes). The metrics stay up for SETTLE seconds so the
recorder scrapes the open state, then the span processors are flushed and the exact counts are
written to TRUTH_JSON: calls (attempts), errors (failed attempts), retries (attempts after the
first of a logical call), logical calls that reached payments, the breaker's end state.

Usage: shop.py OTLP_HTTP_ENDPOINT METRICS_PORT TRUTH_JSON [SETTLE]
Prints {"ready":true} once the metrics endpoint listens, {"done":true} at the end.
"""

import json
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pybreaker
import requests
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import choose_encoder
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

STATES = ["closed", "open", "half_open", "forced_open", "disabled", "metrics_only"]
PROVIDERS = []
SESSION = requests.Session()
SESSION.trust_env = False  # never a proxy: everything is on loopback


def tracer_for(endpoint, service):
    provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                        "service.instance.id": f"{service}-1"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=10), schedule_delay_millis=300))
    PROVIDERS.append(provider)
    return provider.get_tracer("faultline.shop")


def payments_server(tracer, failing):
    """POST /charge: 503 while `failing(call_id)` says so, else 200; one SERVER span each."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *_):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            ctx = propagate.extract({k: v for k, v in self.headers.items()})
            port = self.server.server_address[1]
            attrs = {"http.request.method": "POST", "http.route": "/charge", "url.path": "/charge",
                     "url.scheme": "http", "server.address": "127.0.0.1", "server.port": port}
            with tracer.start_as_current_span("POST /charge", context=ctx, kind=SpanKind.SERVER,
                                              attributes=attrs) as span:
                time.sleep(0.002)
                status = 503 if failing(self.headers.get("X-Call-Id", "")) else 200
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", str(status))
                body = b"busy" if status == 503 else b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def metrics_server(port, registry):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(registry)
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    endpoint, metrics_port, truth_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    settle = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0

    reg = CollectorRegistry()
    state = Gauge("resilience4j_circuitbreaker_state", "The states of the circuit breaker",
                  ["name", "state"], registry=reg)
    not_permitted = Counter("resilience4j_circuitbreaker_not_permitted_calls",
                            "Total number of not permitted calls", ["name", "kind"], registry=reg)

    def export_state(name):
        for s in STATES:
            state.labels("payments", s).set(1 if s == name else 0)

    export_state("closed")
    not_permitted.labels("payments", "not_permitted")

    class Export(pybreaker.CircuitBreakerListener):
        def state_change(self, cb, old_state, new_state):
            export_state(new_state.name.replace("-", "_"))

    breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=600, listeners=[Export()])
    metrics_server(metrics_port, reg)
    print(json.dumps({"ready": True}), flush=True)

    checkout = tracer_for(endpoint, "checkout")
    plan = {}  # call id -> attempts that fail before success (None: all fail)
    seen = {}
    lock = threading.Lock()

    def failing(cid):
        with lock:
            n = seen.get(cid, 0)
            seen[cid] = n + 1
        fails = plan.get(cid, 0)
        return fails is None or n < fails

    port = payments_server(tracer_for(endpoint, "payments"), failing)
    url = f"http://127.0.0.1:{port}/charge"
    truth = {"calls": 0, "errors": 0, "retries": 0, "logical_calls": 0, "rejected": 0}

    def attempt(cid, k):
        attrs = {"http.request.method": "POST", "url.full": url, "url.template": "/charge",
                 "server.address": "127.0.0.1", "server.port": port}
        with checkout.start_as_current_span("POST /charge", kind=SpanKind.CLIENT, attributes=attrs,
                                            record_exception=False,
                                            set_status_on_exception=False) as span:
            headers = {"X-Call-Id": cid}
            propagate.inject(headers)
            r = SESSION.post(url, headers=headers, data=b"{}", timeout=5)
            span.set_attribute("http.response.status_code", r.status_code)
            truth["calls"] += 1
            truth["retries"] += 1 if k > 0 else 0
            if r.status_code >= 400:
                truth["errors"] += 1
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(r.status_code))
            r.raise_for_status()
            return r

    def logical(cid):
        tries = {"k": 0}

        @retry(wait=wait_fixed(0.005), stop=stop_after_attempt(3),
               retry=retry_if_exception_type(requests.HTTPError), reraise=True)
        def call():
            k = tries["k"]
            tries["k"] += 1
            return attempt(cid, k)

        with checkout.start_as_current_span("checkout charge", kind=SpanKind.INTERNAL) as span:
            try:
                breaker.call(call)
            except pybreaker.CircuitBreakerError as e:
                if tries["k"] == 0:
                    truth["rejected"] += 1
                    not_permitted.labels("payments", "not_permitted").inc()
                span.set_attribute("error.type", type(e).__name__)
                span.set_status(Status(StatusCode.ERROR, str(e)))
            except requests.HTTPError as e:
                span.set_attribute("error.type", type(e).__name__)
                span.set_status(Status(StatusCode.ERROR, str(e)))
            if tries["k"] > 0:
                truth["logical_calls"] += 1

    rng = random.Random(8)
    fails = [1] * 60 + [2] * 30 + [0] * 210
    rng.shuffle(fails)
    for i, f in enumerate(fails):
        cid = f"ok-{i}"
        plan[cid] = f
        logical(cid)
    # The outage: every attempt fails; the breaker opens after 3 failed logical calls.
    for i in range(8):
        cid = f"down-{i}"
        plan[cid] = None
        logical(cid)
    truth["breaker"] = breaker.current_state.replace("-", "_")
    time.sleep(settle)
    for p in PROVIDERS:
        p.force_flush()
        p.shutdown()
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    print(json.dumps({"done": True, **truth}), flush=True)


if __name__ == "__main__":
    main()
