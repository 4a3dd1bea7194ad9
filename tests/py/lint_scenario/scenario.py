#!/usr/bin/env python3
"""A small instrumented system that plants resilience anti-patterns for `faultline lint`.

Every edge is real: HTTP servers on 127.0.0.1 (http.server in threads), clients using
`requests`, retries by `tenacity`, a real SQLite database, and the OpenTelemetry Python SDK
exporting OTLP to `faultline record`. Spans follow the HTTP and database semantic conventions
the way the contrib instrumentations write them (W3C trace context is propagated over the wire).

Each anti-pattern is planted on one edge and its correct twin on another:

  RTY-001  orders -> inventory    tenacity wait_fixed, no jitter              (planted)
  RTY-001  billing -> ledger      tenacity wait_exponential, no jitter,
                                  http.request.resend_count on resends          (planted)
           shipping -> carrier    tenacity wait_random_exponential (full jitter) (twin)
  TMO-001  reports -> warehouse   requests without a timeout, server hangs      (planted)
           search -> catalog      requests with timeout=0.25 s, same server     (twin)
  STA-001  web -> accounts        sticky (rendezvous-hash) routing, in-memory
                                  sessions, scale-out then scale-in              (planted)
           mobile -> profiles     random routing, sessions in a shared store    (twin)
  N1-001   storefront -> sqlite   one query per order (N+1)                     (planted)
           catalog-api -> sqlite  one IN (...) query                            (twin)
  CYC-001  pricing -> promotions -> pricing, inside one request                 (planted)
           quotes -> rates -> fx                                                (twin)

Usage: scenario.py OTLP_HTTP_ENDPOINT TRUTH_JSON [--hang SECONDS]
"""

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import requests
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_fixed,
    wait_random_exponential,
)

PROVIDERS = []
ENDPOINT = None
SESSION = requests.Session()
SESSION.trust_env = False  # never a proxy: the servers are on loopback


def tracer_for(service, instance=None):
    res = {"service.name": service}
    res["service.instance.id"] = instance or f"{service}-1"
    provider = TracerProvider(resource=Resource.create(res))
    exporter = OTLPSpanExporter(endpoint=f"{ENDPOINT}/v1/traces", timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    PROVIDERS.append(provider)
    return provider.get_tracer("faultline.lint_scenario")


# ------------------------------------------------------------------------------ HTTP plumbing


class App:
    """An HTTP service instance: routes (method, path) to a handler, one SERVER span each."""

    def __init__(self, service, instance, routes):
        self.tracer = tracer_for(service, instance)
        self.routes = routes
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def do_GET(self):
                app.handle(self, "GET")

            def do_POST(self):
                app.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, h, method):
        path = urlparse(h.path).path
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        route, fn = self.routes.get((method, path), (path, None))
        ctx = propagate.extract({k: v for k, v in h.headers.items()})
        attrs = {
            "http.request.method": method,
            "http.route": route,
            "url.path": path,
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": self.port,
            "client.address": h.client_address[0],
            "client.port": h.client_address[1],
            "network.protocol.version": "1.1",
        }
        with self.tracer.start_as_current_span(
            f"{method} {route}", context=ctx, kind=SpanKind.SERVER, attributes=attrs
        ) as span:
            if fn is None:
                status, out, extra = 404, b"", {}
            else:
                status, out, extra = fn(h.headers, body)
            for k, v in extra.items():
                span.set_attribute(k, v)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(status))
            try:
                h.send_response(status)
                h.send_header("Content-Length", str(len(out)))
                h.end_headers()
                h.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout fired)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def http_call(tracer, method, url, route, *, headers=None, timeout=None, body=None, resend=None):
    """One HTTP client call as a CLIENT span (what opentelemetry-instrumentation-requests records)."""
    u = urlparse(url)
    attrs = {
        "http.request.method": method,
        "url.full": url,
        "url.template": route,
        "server.address": u.hostname,
        "server.port": u.port,
    }
    if resend:
        attrs["http.request.resend_count"] = resend
    with tracer.start_as_current_span(
        f"{method} {route}",
        kind=SpanKind.CLIENT,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        hdrs = dict(headers or {})
        propagate.inject(hdrs)
        try:
            r = SESSION.request(method, url, headers=hdrs, timeout=timeout, data=body)
        except requests.RequestException as e:
            span.set_attribute("error.type", type(e).__qualname__)
            span.record_exception(e)
            span.set_status(Status(StatusCode.ERROR, str(e)))
            raise
        span.set_attribute("http.response.status_code", r.status_code)
        if r.status_code >= 400:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", str(r.status_code))
        return r


# ------------------------------------------------------------------------------ retries


def flaky_app(service):
    """Fails (503) the first X-Fail-Times attempts of each X-Call-Id."""
    seen = {}
    lock = threading.Lock()

    def reserve(headers, _body):
        cid = headers.get("X-Call-Id", "")
        fail = int(headers.get("X-Fail-Times", "0"))
        with lock:
            n = seen.get(cid, 0)
            seen[cid] = n + 1
        time.sleep(0.002)
        return (503, b"busy", {}) if n < fail else (200, b"ok", {})

    return App(service, None, {("POST", "/reserve"): ("/reserve", reserve)})


def retry_workload(caller, server, wait, resend_attr, calls=420, seed=1):
    tracer = tracer_for(caller)
    rng = random.Random(seed)
    # 15 logical calls fail once, 12 fail twice: 39 retries for 420 calls (< the 10% budget).
    plan = [1] * 15 + [2] * 12 + [0] * (calls - 27)
    rng.shuffle(plan)
    url = f"{server.url}/reserve"

    def one(fail):
        cid = uuid.uuid4().hex
        attempt = {"n": 0}

        @retry(wait=wait, stop=stop_after_attempt(4), retry=retry_if_exception_type(requests.HTTPError), reraise=True)
        def call():
            k = attempt["n"]
            attempt["n"] += 1
            r = http_call(
                tracer, "POST", url, "/reserve",
                headers={"X-Call-Id": cid, "X-Fail-Times": str(fail)},
                resend=(k if resend_attr and k > 0 else None),
            )
            r.raise_for_status()
            return r

        with tracer.start_as_current_span(f"{caller} job", kind=SpanKind.INTERNAL):
            call()

    def worker(part):
        for f in part:
            one(f)

    threads = [threading.Thread(target=worker, args=(plan[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    return threads


# ------------------------------------------------------------------------------ timeouts


def slow_app(service, hang_s):
    def lookup(headers, _body):
        if headers.get("X-Hang") == "1":
            time.sleep(hang_s)
        else:
            time.sleep(0.004 + random.random() * 0.012)
        return (200, b"{}", {})

    return App(service, None, {("GET", "/items"): ("/items", lookup)})


def timeout_workload(caller, server, timeout, hung, fast=200):
    tracer = tracer_for(caller)
    url = f"{server.url}/items"

    def call(hang):
        with tracer.start_as_current_span(f"{caller} query", kind=SpanKind.INTERNAL):
            try:
                http_call(tracer, "GET", url, "/items", headers={"X-Hang": "1" if hang else "0"}, timeout=timeout)
            except requests.RequestException:
                pass

    threads = [threading.Thread(target=call, args=(True,)) for _ in range(hung)]

    def fast_calls():
        for _ in range(fast):
            call(False)

    threads.append(threading.Thread(target=fast_calls))
    for t in threads:
        t.start()
    return threads


# ------------------------------------------------------------------------------ sessions


def session_apps(service, instances, shared):
    """Session service instances. With shared=None each instance keeps sessions in memory."""
    apps = {}
    for inst in instances:
        store = shared if shared is not None else {}

        def make(store=store):
            def login(headers, body):
                user = json.loads(body or b"{}").get("user", "")
                sid = uuid.uuid4().hex
                store[sid] = user
                return (200, sid.encode(), {"session.id": sid, "enduser.id": user})

            def profile(headers, _body):
                sid = headers.get("X-Session", "")
                user = store.get(sid)
                extra = {"session.id": sid}
                if user is None:
                    return (401, b"login required", extra)
                extra["enduser.id"] = user
                time.sleep(0.003)
                return (200, json.dumps({"user": user}).encode(), extra)

            return {("POST", "/login"): ("/login", login), ("GET", "/profile"): ("/profile", profile)}

        apps[inst] = App(service, inst, make())
    return apps


def rendezvous(key, names):
    return max(names, key=lambda n: hashlib.sha256(f"{key}|{n}".encode()).hexdigest())


def session_workload(caller, apps, sticky, users, duration, phases, seed=7):
    """`users` users, each logging in and then fetching its profile every ~1.2 s through one of
    two caller instances. `phases` is a list of (start_offset_s, [instance names]) for the
    routing table (scale-out and scale-in)."""
    callers = [tracer_for(caller, f"{caller}-1"), tracer_for(caller, f"{caller}-2")]
    rng = random.Random(seed)
    t0 = time.time()

    def current():
        el = time.time() - t0
        names = phases[0][1]
        for start, ns in phases:
            if el >= start:
                names = ns
        return names

    def pick(key):
        names = current()
        return rendezvous(key, names) if sticky else rng.choice(names)

    def user_loop(user, offset):
        time.sleep(offset)
        tracer = callers[0]
        sid = None
        while time.time() - t0 < duration:
            tracer = rng.choice(callers)
            with tracer.start_as_current_span(f"{caller} page", kind=SpanKind.SERVER):
                try:
                    # Sticky routing pins a client (the LB's affinity cookie) to an instance.
                    app = apps[pick(user)]
                    if sid is None:
                        r = http_call(tracer, "POST", f"{app.url}/login", "/login", body=json.dumps({"user": user}))
                        sid = r.text
                    r = http_call(tracer, "GET", f"{app.url}/profile", "/profile", headers={"X-Session": sid})
                    if r.status_code == 401:
                        # The session lived on another instance: log in again where we landed.
                        r = http_call(tracer, "POST", f"{app.url}/login", "/login", body=json.dumps({"user": user}))
                        sid = r.text
                        http_call(tracer, "GET", f"{app.url}/profile", "/profile", headers={"X-Session": sid})
                except requests.RequestException:
                    pass
            time.sleep(1.2)

    threads = [threading.Thread(target=user_loop, args=(f"user{i:02d}", i * 0.02)) for i in range(users)]
    for t in threads:
        t.start()
    return threads


# ------------------------------------------------------------------------------ N+1 on SQLite


def make_db():
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT)")  # no index on order_id
    db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i % 50) for i in range(600)])
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, i % 600, f"sku{i}") for i in range(150_000)])
    db.commit()
    return db


def db_query(tracer, db, lock, sql, args, table):
    attrs = {
        "db.system.name": "sqlite",
        "db.namespace": "shop",
        "db.operation.name": "SELECT",
        "db.collection.name": table,
        "db.query.text": sql,
    }
    with tracer.start_as_current_span(f"SELECT {table}", kind=SpanKind.CLIENT, attributes=attrs):
        with lock:
            return db.execute(sql, args).fetchall()


def orders_workload(service, db, lock, batched, requests_n=12):
    tracer = tracer_for(service)

    def run():
        for i in range(requests_n):
            with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER, attributes={"http.request.method": "GET", "http.route": "/orders"}):
                ids = [r[0] for r in db_query(tracer, db, lock, "SELECT id FROM orders WHERE customer_id = ?", (i % 50,), "orders")]
                if batched:
                    marks = ", ".join("?" for _ in ids)
                    db_query(tracer, db, lock, f"SELECT * FROM items WHERE order_id IN ({marks})", ids, "items")
                else:
                    for oid in ids:
                        db_query(tracer, db, lock, "SELECT * FROM items WHERE order_id = ?", (oid,), "items")

    t = threading.Thread(target=run)
    t.start()
    return [t]


# ------------------------------------------------------------------------------ call graph


def chain_apps(names, callback_to_first):
    """Services calling each other synchronously: names[0] -> names[1] -> ... With
    `callback_to_first`, the last service calls names[0] back inside the same request (a cycle);
    otherwise the last one answers by itself."""
    apps = [App(n, None, {}) for n in names]

    def leaf(_h, _b):
        time.sleep(0.002)
        return (200, b"{}", {})

    for i, app in enumerate(apps):
        nxt = apps[i + 1] if i + 1 < len(apps) else (apps[0] if callback_to_first else None)

        def handler(_h, _b, app=app, nxt=nxt, last=(i + 1 == len(apps))):
            route = "/base" if (last and callback_to_first) else "/work"
            r = http_call(app.tracer, "GET", f"{nxt.url}{route}", route)
            return (r.status_code, b"{}", {})

        app.routes[("GET", "/work")] = ("/work", handler if nxt is not None else leaf)
        app.routes[("GET", "/base")] = ("/base", leaf)
    return apps


def chain_workload(caller, first, n=20):
    tracer = tracer_for(caller)

    def run():
        for _ in range(n):
            with tracer.start_as_current_span(f"{caller} job", kind=SpanKind.INTERNAL):
                http_call(tracer, "GET", f"{first.url}/work", "/work")

    t = threading.Thread(target=run)
    t.start()
    return [t]


# ------------------------------------------------------------------------------ main


def main():
    global ENDPOINT
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint", help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    ap.add_argument("truth")
    ap.add_argument("--hang", type=float, default=32.0, help="how long the slow server hangs (s)")
    args = ap.parse_args()
    ENDPOINT = args.endpoint.rstrip("/")
    started = time.time()

    threads = []
    # Timeouts first: the hung calls set the scenario's length.
    warehouse = slow_app("warehouse", args.hang)
    catalog = slow_app("catalog", 3.0)
    threads += timeout_workload("reports", warehouse, None, hung=4)
    threads += timeout_workload("search", catalog, 0.25, hung=6)

    # Sessions: sticky + in-memory vs random + shared store; accounts scales out then in.
    accounts = session_apps("accounts", ["accounts-1", "accounts-2", "accounts-3"], None)
    profiles = session_apps("profiles", ["profiles-1", "profiles-2"], {})
    dur = args.hang + 3.0
    third = dur / 3
    threads += session_workload(
        "web", accounts, True, 40, dur,
        [(0, ["accounts-1", "accounts-2"]), (third, ["accounts-1", "accounts-2", "accounts-3"]), (2 * third, ["accounts-1", "accounts-2"])],
    )
    threads += session_workload("mobile", profiles, False, 40, dur, [(0, ["profiles-1", "profiles-2"])])

    # Retries.
    inventory = flaky_app("inventory")
    ledger = flaky_app("ledger")
    carrier = flaky_app("carrier")
    threads += retry_workload("orders", inventory, wait_fixed(0.12), False, seed=1)
    threads += retry_workload("billing", ledger, wait_exponential(multiplier=0.08, max=10), True, seed=2)
    threads += retry_workload("shipping", carrier, wait_random_exponential(multiplier=0.1, max=1), False, seed=3)

    # N+1.
    db = make_db()
    lock = threading.Lock()
    threads += orders_workload("storefront", db, lock, batched=False)
    threads += orders_workload("catalog-api", db, lock, batched=True)

    # A synchronous call-back cycle (pricing -> promotions -> pricing) and an acyclic twin.
    cyc = chain_apps(["pricing", "promotions"], True)
    acyc = chain_apps(["quotes", "rates", "fx"], False)
    threads += chain_workload("storefront-ui", cyc[0])
    threads += chain_workload("quote-ui", acyc[0])

    for t in threads:
        t.join(timeout=args.hang + 30)
    for p in PROVIDERS:
        p.force_flush(timeout_millis=10_000)
    for p in PROVIDERS:
        p.shutdown()

    truth = {
        "planted": [
            {"rule": "RTY-001", "caller": "orders", "dependency": "inventory", "what": "tenacity wait_fixed(0.12), no jitter"},
            {"rule": "RTY-001", "caller": "billing", "dependency": "ledger", "what": "tenacity wait_exponential(0.08), no jitter"},
            {"rule": "TMO-001", "caller": "reports", "dependency": "warehouse", "what": "requests without timeout"},
            {"rule": "STA-001", "service": "accounts", "what": "sticky routing, in-memory sessions"},
            {"rule": "N1-001", "caller": "storefront", "dependency": "sqlite shop", "what": "one query per order"},
            {"rule": "CYC-001", "service": "pricing", "what": "pricing -> promotions -> pricing within one request"},
        ],
        "twins": [
            {"caller": "shipping", "dependency": "carrier", "what": "wait_random_exponential"},
            {"caller": "search", "dependency": "catalog", "what": "timeout=0.25 s"},
            {"service": "profiles", "what": "stateless, shared session store"},
            {"caller": "mobile", "dependency": "profiles", "what": "stateless caller"},
            {"caller": "catalog-api", "dependency": "sqlite shop", "what": "one IN (...) query"},
            {"service": "quotes", "what": "acyclic chain quotes -> rates -> fx"},
            {"service": "rates", "what": "acyclic chain"},
            {"service": "fx", "what": "acyclic chain"},
        ],
        "seconds": round(time.time() - started, 1),
    }
    with open(args.truth, "w") as f:
        json.dump(truth, f, indent=1)
    for a in list(accounts.values()) + list(profiles.values()) + [warehouse, catalog, inventory, ledger, carrier] + cyc + acyc:
        a.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
