#!/usr/bin/env python3
"""A realistic, well-built system that `faultline lint` must leave alone (no finding above info).

Real HTTP servers on 127.0.0.1, real `requests` clients, `tenacity` retries, a real SQLite
database and the OpenTelemetry Python SDK exporting OTLP to `faultline record` — the plumbing of
tests/py/lint_scenario/scenario.py (App, http_call, db_query), reused. Every part below is
something real systems do that a naive detector mistakes for an anti-pattern:

  shared auth     every service verifies tokens with `auth`; `auth` looks users up in `users`,
                  which calls `auth` itself (a cycle through shared infrastructure)   CYC-001
  stray call      `catalog` calls `orders` once at start-up (cache warm-up)            CYC-001
  long-polls      `dashboard` long-polls `notifier` (GET /events/poll?wait=30): most
                  polls return fast, a quiet topic's polls wait 30 s, with a real
                  40 s client timeout that never fires                               TMO-001
  uploads         `reports` uploads CSV files (multipart) to `storage`                TMO-001
  keyset paging   `catalog` reads products a page at a time (WHERE created > ?
                  ORDER BY created LIMIT ?), 8 pages per listing                     N1-001
  offset paging   `orders` lists order history with LIMIT ? OFFSET ?                 N1-001
  API paging      `orders` pages through `catalog` (GET /products?page=N)           N1-002
  fan-out         `orders` fetches the 4 items of an order from `catalog`, retrying an
                  item with jittered backoff; `gateway` retries `orders` with jitter;
                  in 3 requests both happen (one retry at each layer)               RTY-003
  batch job       `billing-batch` posts invoices to `ledger` through a 2 s outage
                  (503), backing off with full jitter                               RTY-001
  item loop       `audit-exporter` posts successive audit events (5 per batch, 25 ms
                  apart) during the same outage and moves on when one fails          RTY-001
  cart            two stateless `cart` instances behind random routing, no session
                  attributes (client address + user agent only); cart-2 is scaled in STA-001

Usage: system.py OTLP_HTTP_ENDPOINT SUMMARY_JSON
"""

import argparse
import json
import os
import random
import re
import sqlite3
import sys
import threading
import time
import uuid

import requests
from opentelemetry.trace import SpanKind
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lint_scenario"))
import scenario as plumbing  # noqa: E402  (App, http_call, db_query, tracer_for)

from scenario import App, db_query, http_call, tracer_for  # noqa: E402

TIMEOUT = 5.0  # generous but real: every ordinary call has it
POLL_WAIT = 30.5  # the long-poll's server-side hold, s
POLL_TIMEOUT = 40.0  # the long-poll client's timeout, s


class Routes(dict):
    """Routes with `{param}` templates: `get((method, path))` returns (template, handler(h, b))."""

    def get(self, key, default=None):
        method, path = key
        for (m, tmpl), fn in self.items():
            pat = "^" + re.sub(r"\{[^/]+\}", "[^/]+", tmpl) + "$"
            if m == method and re.match(pat, path):
                return (tmpl, lambda h, b, fn=fn: fn(h, b, path))
        return default


def app(service, instance=None, **routes):
    a = App(service, instance, Routes())
    base = a.server.handle_error

    def quiet(request, client_address):
        # A client closing its keep-alive connection at exit is not an error of the system.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            base(request, client_address)

    a.server.handle_error = quiet
    for k, fn in routes.items():
        method, tmpl = k.split(" ", 1)
        a.routes[(method, tmpl)] = fn
    return a


def retrying(fn, attempts=4, multiplier=0.05, cap=1.0):
    """Calls fn() with tenacity full-jitter exponential backoff on HTTP errors."""
    return retry(
        wait=wait_random_exponential(multiplier=multiplier, max=cap),
        stop=stop_after_attempt(attempts),
        retry=retry_if_exception_type(requests.HTTPError),
        reraise=True,
    )(fn)()


def ok(r):
    r.raise_for_status()
    return r


# ------------------------------------------------------------------------------ data


def make_db():
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, created INTEGER)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, shopper TEXT, placed_at INTEGER)")
    rng = random.Random(5)
    db.executemany("INSERT INTO products VALUES (?, ?, ?)", [(i, f"p{i}", rng.randrange(10**9)) for i in range(40_000)])
    db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, f"s{i % 8}", rng.randrange(10**9)) for i in range(60_000)])
    db.commit()
    return db


# ------------------------------------------------------------------------------ the system


class System:
    def __init__(self):
        self.t0 = time.time()
        self.db = make_db()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.blip = (8.0, 10.0)  # ledger answers 503 in this window (s after start)
        self.events = {}  # topic -> [seq, Condition]
        self.fail_once = set()  # (order id, item) the catalog fails once
        self.blipped_orders = set()  # order ids whose first attempt orders fails
        self.order_attempts = {}
        self.carts = {}
        self.cart_up = ["cart-1", "cart-2"]
        self.summary = {"polls": 0, "slow_polls": 0, "ledger_503": 0, "export_failures": 0}
        self._build()

    def el(self):
        return time.time() - self.t0

    # -- services

    def _build(self):
        s = self
        self.users = app("users", **{
            "GET /users/me": lambda h, b, p: s.verified(s.users, h, lambda: (200, b"{}", {})),
            "GET /users/{id}": lambda h, b, p: (200, b"{}", {}),
        })
        self.auth = app("auth", **{"POST /verify": self.verify})
        self.catalog = app("catalog", **{
            "GET /products": self.list_products,
            "GET /products/{id}": self.product,
        })
        self.notifier = app("notifier", **{
            "GET /events/poll": self.poll,
            "POST /events/publish": self.publish,
        })
        self.orders = app("orders", **{
            "POST /orders/{id}": self.place_order,
            "GET /orders/recent": lambda h, b, p: (200, b"[]", {}),
        })
        self.cart_apps = {i: app("cart", i, **{"GET /cart": self.cart}) for i in self.cart_up}
        self.gateway = app("gateway", **{
            "GET /api/products": lambda h, b, p: s.verified(s.gateway, h, lambda: s.forward(s.gateway, "GET", s.catalog, "/products", "/products")),
            "GET /api/cart": self.route_cart,
            "POST /api/orders/{id}": self.route_order,
            "GET /api/me": lambda h, b, p: s.forward(s.gateway, "GET", s.users, "/users/me", "/users/me",
                                                     {"Authorization": h.get("Authorization", "")}),
        })
        self.ledger = app("ledger", **{
            "POST /entries/{id}": self.ledger_post,
            "POST /events/{id}": self.ledger_post,
        })
        self.storage = app("storage", **{"POST /uploads": self.upload})
        self.apps = [self.users, self.auth, self.catalog, self.notifier, self.orders, self.gateway,
                     self.ledger, self.storage] + list(self.cart_apps.values())

    def verified(self, svc, headers, then):
        """Every service checks the caller's token with `auth` first."""
        http_call(svc.tracer, "POST", f"{self.auth.url}/verify", "/verify",
                  headers={"Authorization": headers.get("Authorization", "t")}, timeout=TIMEOUT)
        return then()

    def verify(self, h, _b, _p):
        # A token cache miss (1 in 4) looks the user up.
        if random.random() < 0.25:
            http_call(self.auth.tracer, "GET", f"{self.users.url}/users/{random.randrange(1000)}", "/users/{id}", timeout=TIMEOUT)
        return (200, b"ok", {})

    def forward(self, svc, method, target, path, route, headers=None):
        r = http_call(svc.tracer, method, f"{target.url}{path}", route, headers=headers, timeout=TIMEOUT)
        return (r.status_code, r.content, {})

    def list_products(self, h, _b, _p):
        """Keyset pagination: 8 pages of 25, each after the last key seen."""
        def run():
            cursor = -1
            for _ in range(8):
                rows = db_query(self.catalog.tracer, self.db, self.lock,
                                "SELECT id, name, created FROM products WHERE created > ? ORDER BY created LIMIT ?",
                                (cursor, 25), "products")
                if not rows:
                    break
                cursor = rows[-1][2]
            return (200, b"[]", {})
        return self.verified(self.catalog, h, run)

    def product(self, h, _b, path):
        key = (h.get("X-Order", ""), path)
        with self.lock:
            if key in self.fail_once:
                self.fail_once.discard(key)
                return (503, b"busy", {})
        time.sleep(0.002)
        return (200, b"{}", {})

    def place_order(self, h, _b, path):
        oid = path.rsplit("/", 1)[1]
        tr = self.orders.tracer

        def run():
            # The order's 4 items: a normal fan-out, each item retried with jitter.
            for item in range(4):
                url = f"{self.catalog.url}/products/{item + 10 * int(oid)}"
                retrying(lambda url=url: ok(http_call(tr, "GET", url, "/products/{id}", headers={"X-Order": oid}, timeout=TIMEOUT)))
            # Order history (every third order), LIMIT/OFFSET pages; and the catalog's price
            # list, a page at a time.
            for page in range(6 if int(oid) % 3 == 0 else 0):
                db_query(tr, self.db, self.lock, "SELECT id, placed_at FROM orders WHERE shopper = ? ORDER BY placed_at LIMIT ? OFFSET ?",
                         (f"s{int(oid) % 8}", 20, 20 * page), "orders")
            for page in range(1, 13):
                http_call(tr, "GET", f"{self.catalog.url}/products/{page}?page={page}", "/products/{id}", timeout=TIMEOUT)
            http_call(tr, "POST", f"{self.notifier.url}/events/publish?topic=orders", "/events/publish", timeout=TIMEOUT)
            with self.lock:
                n = self.order_attempts.get(oid, 0)
                self.order_attempts[oid] = n + 1
            if oid in self.blipped_orders and n == 0:
                return (503, b"try again", {})  # a blip after the work: the gateway retries
            return (201, b"{}", {})
        return self.verified(self.orders, h, run)

    def route_order(self, h, _b, path):
        oid = path.rsplit("/", 1)[1]
        tr = self.gateway.tracer
        r = retrying(lambda: ok(http_call(tr, "POST", f"{self.orders.url}/orders/{oid}", "/orders/{id}", timeout=TIMEOUT)),
                     attempts=3, multiplier=0.1)
        return (r.status_code, b"{}", {})

    def route_cart(self, h, _b, _p):
        up = list(self.cart_up)
        inst = random.choice(up)
        return self.forward(self.gateway, "GET", self.cart_apps[inst], "/cart", "/cart",
                            {"User-Agent": h.get("User-Agent", "")})

    def cart(self, h, _b, _p):
        ua = h.get("User-Agent", "")
        with self.lock:
            self.carts.setdefault(ua, 0)
            self.carts[ua] += 1  # a shared store: any instance serves any cart
        time.sleep(0.002)
        return (200, b"{}", {"user_agent.original": ua})

    def poll(self, h, _b, _p):
        topic = h.get("X-Topic", "")
        cursor = int(h.get("X-Cursor", "0"))
        with self.lock:
            ent = self.events.setdefault(topic, [0, threading.Condition(self.lock)])
            ent[1].wait_for(lambda: ent[0] > cursor or self.stop.is_set(), timeout=POLL_WAIT)
            seq = ent[0]
        return (200 if seq > cursor else 204, str(seq).encode(), {})

    def publish(self, h, _b, _p):
        topic = "orders"
        with self.lock:
            ent = self.events.setdefault(topic, [0, threading.Condition(self.lock)])
            ent[0] += 1
            ent[1].notify_all()
        return (202, b"", {})

    def ledger_post(self, h, _b, _p):
        lo, hi = self.blip
        if lo <= self.el() < hi:
            with self.lock:
                self.summary["ledger_503"] += 1
            return (503, b"maintenance", {})
        time.sleep(0.001)
        return (201, b"", {})

    def upload(self, h, b, _p):
        time.sleep(0.3)
        return (201, b"", {})

    # -- workloads

    def shoppers(self, n, duration):
        def loop(k):
            ua = f"shop-app/3.{k} (Android {10 + k})"
            sess = requests.Session()
            sess.trust_env = False
            rng = random.Random(k)
            i = 0
            while self.el() < duration:
                i += 1
                oid = str(k * 10_000 + i)
                hdr = {"User-Agent": ua, "Authorization": f"t{k}"}
                try:
                    if i % 3 == 1:
                        sess.get(f"{self.gateway.url}/api/products", headers=hdr, timeout=TIMEOUT)
                    sess.get(f"{self.gateway.url}/api/cart", headers=hdr, timeout=TIMEOUT)
                    sess.get(f"{self.gateway.url}/api/me", headers=hdr, timeout=TIMEOUT)
                    sess.post(f"{self.gateway.url}/api/orders/{oid}", headers=hdr, timeout=TIMEOUT)
                except requests.RequestException:
                    pass
                if self.el() > 0.6 * duration and "cart-2" in self.cart_up:
                    with self.lock:
                        if "cart-2" in self.cart_up:
                            self.cart_up.remove("cart-2")  # scale-in
                time.sleep(0.2 + rng.random() * 0.3)

        # Three orders where both layers retry once (the item, then the whole order).
        for oid in ("10001", "20002", "30003"):
            self.blipped_orders.add(oid)
            self.fail_once.add((oid, f"/products/{1 + 10 * int(oid)}"))
        return [threading.Thread(target=loop, args=(k,)) for k in range(1, n + 1)]

    def dashboards(self, quiet, busy, duration):
        tracer = tracer_for("dashboard")

        def sub(topic, once):
            cursor = 0
            while True:
                with tracer.start_as_current_span(f"dashboard refresh {topic}", kind=SpanKind.INTERNAL):
                    t = time.time()
                    try:
                        r = http_call(tracer, "GET", f"{self.notifier.url}/events/poll?topic={topic}&wait=30", "/events/poll",
                                      headers={"X-Topic": topic, "X-Cursor": str(cursor)}, timeout=POLL_TIMEOUT)
                        cursor = max(cursor, int(r.text or 0))
                    except requests.RequestException:
                        pass
                    with self.lock:
                        self.summary["polls"] += 1
                        self.summary["slow_polls"] += int(time.time() - t >= 30)
                if once or self.el() > duration:
                    return

        return [threading.Thread(target=sub, args=("audit", True)) for _ in range(quiet)] + [
            threading.Thread(target=sub, args=("orders", False)) for _ in range(busy)
        ]

    def billing_batch(self, items):
        tracer = tracer_for("billing-batch")

        def run():
            for start in range(0, items, 20):
                with tracer.start_as_current_span("billing batch", kind=SpanKind.INTERNAL):
                    for i in range(start, start + 20):
                        url = f"{self.ledger.url}/entries/{i}"
                        body = json.dumps({"invoice": i}).encode()
                        try:
                            retrying(lambda url=url, body=body: ok(http_call(tracer, "POST", url, "/entries/{id}", body=body, timeout=TIMEOUT)),
                                     attempts=8, multiplier=0.15, cap=2.0)
                        except requests.RequestException:
                            pass
                        time.sleep(0.02)

        return [threading.Thread(target=run)]

    def audit_exporter(self, duration):
        tracer = tracer_for("audit-exporter")

        def run():
            queue = list(range(100_000, 100_000 + 5000))
            while self.el() < duration and queue:
                with tracer.start_as_current_span("export audit batch", kind=SpanKind.INTERNAL):
                    for _ in range(5):
                        ev = queue.pop(0)
                        try:
                            ok(http_call(tracer, "POST", f"{self.ledger.url}/events/{ev}", "/events/{id}",
                                         body=json.dumps({"event": ev}).encode(), timeout=TIMEOUT))
                        except requests.RequestException:
                            queue.append(ev)  # at-least-once: re-sent in a later batch
                            with self.lock:
                                self.summary["export_failures"] += 1
                        time.sleep(0.025)

        return [threading.Thread(target=run)]

    def reports(self, n):
        tracer = tracer_for("reports")

        def run():
            for i in range(n):
                with tracer.start_as_current_span("nightly report", kind=SpanKind.INTERNAL):
                    span_attrs_body = b"--b\r\nContent-Disposition: form-data; name=f; filename=r.csv\r\n\r\na,b\r\n--b--\r\n"
                    http_call(tracer, "POST", f"{self.storage.url}/uploads", "/uploads",
                              headers={"Content-Type": "multipart/form-data; boundary=b"}, body=span_attrs_body, timeout=60)
                time.sleep(1.0)

        return [threading.Thread(target=run)]

    def warm_up(self):
        """The catalog warms its cache from orders once: a single stray call back."""
        tr = self.catalog.tracer
        with tr.start_as_current_span("catalog warm-up", kind=SpanKind.INTERNAL):
            http_call(tr, "GET", f"{self.orders.url}/orders/recent", "/orders/recent", timeout=TIMEOUT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("summary")
    args = ap.parse_args()
    plumbing.ENDPOINT = args.endpoint.rstrip("/")
    random.seed(11)
    s = System()
    duration = 31.0
    s.warm_up()
    threads = s.dashboards(quiet=22, busy=4, duration=duration)
    threads += s.shoppers(8, duration)
    threads += s.billing_batch(600)
    threads += s.audit_exporter(duration)
    threads += s.reports(4)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    alive = [t for t in threads if t.is_alive()]
    s.stop.set()
    for p in plumbing.PROVIDERS:
        p.force_flush(timeout_millis=10_000)
    for p in plumbing.PROVIDERS:
        p.shutdown()
    s.summary["seconds"] = round(s.el(), 1)
    s.summary["stuck_threads"] = len(alive)
    s.summary["cart_instances_at_end"] = list(s.cart_up)
    with open(args.summary, "w") as f:
        json.dump(s.summary, f, indent=1)
    for a in s.apps:
        a.stop()
    return 0 if not alive else 1


if __name__ == "__main__":
    sys.exit(main())
