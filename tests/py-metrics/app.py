"""Test services for faultline's metric tests (tests/metrics_real.rs). Binds 127.0.0.1 only.

    app.py metrics   resilience4j- and Hystrix-shaped series with prometheus_client, with
                     control endpoints to move them; prints {"ready":true,"port":N}
    app.py slow S    an HTTP backend that answers every request after S seconds (for HAProxy
                     with maxconn 1, so its backend queue fills); prints {"ready":true,"port":N}
    app.py pool      HikariCP-shaped pools (Micrometer names: hikaricp_connections_active,
                     _idle, _max, _pending, label pool): "orders-db" saturated (10 of 10 active,
                     5 threads waiting), "users-db" idle (1 of 10); GET /pool?name=&active=&
                     max=&pending= moves one; prints {"ready":true,"port":N}

Both exit after 120 s at the latest, so a lost test never leaves them running.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATES = ["closed", "open", "half_open", "forced_open", "disabled", "metrics_only"]


def metrics_app():
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.exposition import choose_encoder

    reg = CollectorRegistry()
    state = Gauge("resilience4j_circuitbreaker_state", "The states of the circuit breaker",
                  ["name", "state"], registry=reg)
    not_permitted = Counter("resilience4j_circuitbreaker_not_permitted_calls",
                            "Total number of not permitted calls", ["name", "kind"], registry=reg)
    queue_depth = Gauge("resilience4j_bulkhead_queue_depth", "The queue depth", ["name"], registry=reg)
    queue_cap = Gauge("resilience4j_bulkhead_queue_capacity", "The queue capacity", ["name"], registry=reg)
    calls = Histogram("resilience4j_circuitbreaker_calls_seconds", "Total number of calls",
                      ["name", "kind"], registry=reg,
                      buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0])
    hystrix_open = Gauge("hystrix_circuit_breaker_open", "Circuit breaker open", ["group", "key"], registry=reg)
    hystrix_exec = Counter("hystrix_execution", "Execution events", ["group", "key", "event"], registry=reg)

    def set_state(name, current):
        for s in STATES:
            state.labels(name, s).set(1 if s == current else 0)

    set_state("payments", "closed")
    not_permitted.labels("payments", "not_permitted")
    queue_depth.labels("payments").set(0)
    queue_cap.labels("payments").set(100)
    hystrix_open.labels("users-group", "users").set(0)
    hystrix_exec.labels("users-group", "users", "success")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/metrics":
                encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
                body = encoder(reg)
            else:
                if url.path == "/state":
                    set_state(q.get("name", "payments"), q["state"])
                elif url.path == "/reject":
                    not_permitted.labels(q.get("name", "payments"), "not_permitted").inc(float(q.get("n", 1)))
                elif url.path == "/queue":
                    queue_depth.labels(q.get("name", "payments")).set(float(q["depth"]))
                elif url.path == "/hystrix":
                    hystrix_open.labels("users-group", q.get("key", "users")).set(float(q["open"]))
                    if "short" in q:
                        hystrix_exec.labels("users-group", q.get("key", "users"), "short_circuited").inc(float(q["short"]))
                elif url.path == "/observe":
                    for _ in range(int(q.get("n", 1))):
                        calls.labels(q.get("name", "payments"), "successful").observe(float(q["v"]))
                else:
                    self.send_error(404)
                    return
                body, ctype = b"ok\n", "text/plain"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def pool_app():
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.exposition import choose_encoder

    reg = CollectorRegistry()
    gauges = {
        k: Gauge(f"hikaricp_connections_{k}", f"Connections {k}", ["pool"], registry=reg)
        for k in ["active", "idle", "max", "pending"]
    }

    def set_pool(name, active, max_, pending):
        gauges["active"].labels(name).set(active)
        gauges["idle"].labels(name).set(max_ - active)
        gauges["max"].labels(name).set(max_)
        gauges["pending"].labels(name).set(pending)

    set_pool("orders-db", 10, 10, 5)
    set_pool("users-db", 1, 10, 0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/metrics":
                encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
                body = encoder(reg)
            elif url.path == "/pool":
                set_pool(q["name"], float(q["active"]), float(q["max"]), float(q["pending"]))
                body, ctype = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def slow_app(seconds):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(seconds)
            body = b"slow ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    mode = sys.argv[1]
    if mode == "metrics":
        handler = metrics_app()
    elif mode == "pool":
        handler = pool_app()
    else:
        handler = slow_app(float(sys.argv[2]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print(json.dumps({"ready": True, "port": server.server_address[1]}), flush=True)
    threading.Timer(120, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
