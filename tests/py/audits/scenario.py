#!/usr/bin/env python3
"""Real services that plant the architecture audits' patterns for `faultline lint`, each beside
its correct twin.

Every edge is real: HTTP servers on 127.0.0.1 (http.server in threads), clients using
`requests`, and the OpenTelemetry Python SDK exporting OTLP to `faultline record`, with W3C
trace context on the wire (the HTTP plumbing is tests/py/lint_scenario/scenario.py's).

  BLK-002  storefront-web -> recommender   one outbound-connection budget (2) shared by every
                                           dependency, like aiohttp's connector limit; the
                                           recommender slows for 8 s                   (planted)
           catalog-web -> recommender-b    one budget per dependency (a bulkhead), same
                                           slowdown                                    (twin)
  DEP-001  checkout -> reviews             a failed reviews call fails the request     (planted)
           product-page -> ratings         a failed ratings call answers degraded       (twin)
  RTY-002  meter (6 instances) -> quota    during an outage each instance queues its work and
                                           probes /health every second; on recovery it flushes
                                           the whole backlog at once                    (planted)
           viewer (6 instances) -> tiles   jittered probes, backlog drained at a paced rate
                                           after a random delay                         (twin)
  CTX-001  mailer -> templates             a hand-rolled client that sends no traceparent
                                                                                        (planted)
           notifier -> renderer            the context injected                         (twin)
  ARC-001  orders-api -> cart              four fine-grained calls per request, same order
                                                                                        (planted)
           wishlist-api -> cart-summary    one aggregate call per request               (twin)

Usage: scenario.py OTLP_HTTP_ENDPOINT TRUTH_JSON
"""

import argparse
import json
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lint_scenario"))

import requests  # noqa: E402
import scenario as base  # noqa: E402  (the lint scenario's HTTP plumbing and tracer setup)
from opentelemetry.trace import SpanKind  # noqa: E402

App, http_call, tracer_for = base.App, base.http_call, base.tracer_for
T0 = time.time()
DURATION = 22.0


def elapsed():
    return time.time() - T0


def ok(_h, _b):
    time.sleep(0.003)
    return (200, b"{}", {})


# ------------------------------------------------------------------------------ BLK-002


def limited_call(tracer, sem, url, route):
    """A CLIENT span that first waits for a connection from a bounded pool (as urllib3's
    blocking pool or aiohttp's connector limit do inside the instrumented call)."""
    u = urlparse(url)
    attrs = {"http.request.method": "GET", "url.full": url, "url.template": route,
             "server.address": u.hostname, "server.port": u.port}
    with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.CLIENT, attributes=attrs) as span:
        with sem:
            hdrs = {}
            base.propagate.inject(hdrs)
            r = base.SESSION.get(url, headers=hdrs, timeout=10)
        span.set_attribute("http.response.status_code", r.status_code)
        return r


def bulkhead_pair(name, shared, slow_from, slow_to):
    def recs(_h, _b):
        slow = slow_from <= elapsed() < slow_to
        time.sleep(0.8 if slow else 0.005)
        return (200, b"[]", {})

    suffix = "" if shared else "-b"
    reco = App(f"recommender{suffix}", None, {("GET", "/recs"): ("/recs", recs)})
    prices = App(f"prices{suffix}", None, {("GET", "/price"): ("/price", ok)})
    caller = App(name, None, {})
    if shared:
        one = threading.BoundedSemaphore(2)
        sems = {"reco": one, "prices": one}
    else:
        sems = {"reco": threading.BoundedSemaphore(2), "prices": threading.BoundedSemaphore(2)}

    def recommend(_h, _b):
        r = limited_call(caller.tracer, sems["reco"], f"{reco.url}/recs", "/recs")
        return (r.status_code, b"{}", {})

    def price(_h, _b):
        r = limited_call(caller.tracer, sems["prices"], f"{prices.url}/price", "/price")
        return (r.status_code, b"{}", {})

    caller.routes[("GET", "/recommend")] = ("/recommend", recommend)
    caller.routes[("GET", "/price")] = ("/price", price)
    return [reco, prices, caller]


def browse(url, pause, until):
    def run():
        s = requests.Session()
        s.trust_env = False
        while elapsed() < until:
            try:
                s.get(url, timeout=10)
            except requests.RequestException:
                pass
            time.sleep(pause)

    t = threading.Thread(target=run)
    t.start()
    return t


# ------------------------------------------------------------------------------ DEP-001


def fallback_pair(caller_name, dep_name, degrade, seed):
    rng = random.Random(seed)
    lock = threading.Lock()

    def fetch(_h, _b):
        with lock:
            fail = rng.random() < 0.35
        time.sleep(0.003)
        return (503, b"unavailable", {}) if fail else (200, b"[]", {})

    dep = App(dep_name, None, {("GET", "/list"): ("/list", fetch)})
    caller = App(caller_name, None, {})

    def page(_h, _b):
        r = http_call(caller.tracer, "GET", f"{dep.url}/list", "/list")
        if r.status_code >= 500:
            if degrade:
                return (200, b'{"items": "unavailable"}', {})  # the page without that part
            return (502, b"upstream failed", {})
        return (200, b"{}", {})

    caller.routes[("GET", "/page")] = ("/page", page)
    return [dep, caller]


# ------------------------------------------------------------------------------ RTY-002 herd


def outage_app(name, down_from, down_to):
    def handle(_h, _b):
        if down_from <= elapsed() < down_to:
            return (503, b"down", {})
        time.sleep(0.002)
        return (200, b"{}", {})

    return App(name, None, {("GET", "/use"): ("/use", handle), ("GET", "/health"): ("/health", handle)})


def herd_client(service, instance, dep, herd, until, seed):
    tracer = tracer_for(service, instance)
    rng = random.Random(seed)

    def call(route):
        with tracer.start_as_current_span(f"{service} job", kind=SpanKind.INTERNAL):
            try:
                return http_call(tracer, "GET", f"{dep.url}{route}", route, timeout=5).status_code < 500
            except requests.RequestException:
                return False

    def run():
        time.sleep(rng.random() * 0.5)
        backlog, healthy, drain_at = 0, True, 0.0
        while elapsed() < until:
            if healthy:
                if not call("/use"):
                    healthy, backlog = False, backlog + 1
                elif backlog and elapsed() >= drain_at and rng.random() < 0.5:
                    backlog -= 1  # the twin drains one held-back item per tick
                    call("/use")
                time.sleep(0.5)
                continue
            # Down: four requests a second are held back; probe for recovery.
            wait = 1.0 if herd else rng.uniform(0.5, 1.5)
            time.sleep(wait)
            backlog += int(4 * wait)
            if call("/health"):
                healthy = True
                if herd:
                    # Everything at once, eight at a time.
                    with ThreadPoolExecutor(8) as pool:
                        list(pool.map(lambda _: call("/use"), range(backlog)))
                    backlog = 0
                else:
                    drain_at = elapsed() + rng.uniform(0.0, 2.0)

    t = threading.Thread(target=run)
    t.start()
    return t


# ------------------------------------------------------------------------------ CTX-001


def bare_call(tracer, url, route):
    """A CLIENT span recorded by hand around a client that never injects the trace context."""
    u = urlparse(url)
    attrs = {"http.request.method": "GET", "url.full": url, "url.template": route,
             "server.address": u.hostname, "server.port": u.port}
    with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.CLIENT, attributes=attrs) as span:
        r = base.SESSION.get(url, timeout=5)  # no propagate.inject: the server starts a new trace
        span.set_attribute("http.response.status_code", r.status_code)
        return r


def propagation_pair(caller_name, dep_name, inject, n=40):
    dep = App(dep_name, None, {("GET", "/render"): ("/render", ok)})
    tracer = tracer_for(caller_name)

    def run():
        for _ in range(n):
            with tracer.start_as_current_span(f"{caller_name} send", kind=SpanKind.INTERNAL):
                if inject:
                    http_call(tracer, "GET", f"{dep.url}/render", "/render", timeout=5)
                else:
                    bare_call(tracer, f"{dep.url}/render", "/render")
            time.sleep(0.1)

    t = threading.Thread(target=run)
    t.start()
    return [dep], t


# ------------------------------------------------------------------------------ ARC-001


def lockstep_pair():
    cart = App("cart", None, {
        ("GET", "/cart"): ("/cart", ok),
        ("GET", "/cart/items"): ("/cart/items", ok),
        ("GET", "/cart/total"): ("/cart/total", ok),
        ("POST", "/cart/lock"): ("/cart/lock", ok),
    })
    summary = App("cart-summary", None, {("GET", "/summary"): ("/summary", ok)})
    orders = App("orders-api", None, {})
    wishlist = App("wishlist-api", None, {})

    def order(_h, _b):
        for method, route in [("GET", "/cart"), ("GET", "/cart/items"), ("GET", "/cart/total"), ("POST", "/cart/lock")]:
            http_call(orders.tracer, method, f"{cart.url}{route}?id=42", route, timeout=5)
        return (200, b"{}", {})

    def wish(_h, _b):
        http_call(wishlist.tracer, "GET", f"{summary.url}/summary?id=42", "/summary", timeout=5)
        return (200, b"{}", {})

    orders.routes[("GET", "/order")] = ("/order", order)
    wishlist.routes[("GET", "/wish")] = ("/wish", wish)
    return [cart, summary, orders, wishlist]


# ------------------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint", help="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    ap.add_argument("truth")
    args = ap.parse_args()
    base.ENDPOINT = args.endpoint.rstrip("/")
    apps, threads = [], []

    planted_bh = bulkhead_pair("storefront-web", True, 8.0, 16.0)
    twin_bh = bulkhead_pair("catalog-web", False, 8.0, 16.0)
    apps += planted_bh + twin_bh
    for caller in (planted_bh[2], twin_bh[2]):
        threads += [browse(f"{caller.url}/recommend", 0.25, DURATION) for _ in range(3)]
        threads += [browse(f"{caller.url}/price", 0.25, DURATION) for _ in range(2)]

    for caller_name, dep_name, degrade, seed in [("checkout", "reviews", False, 11), ("product-page", "ratings", True, 12)]:
        pair = fallback_pair(caller_name, dep_name, degrade, seed)
        apps += pair
        threads.append(browse(f"{pair[1].url}/page", 0.15, DURATION))

    quota = outage_app("quota", 6.0, 11.0)
    tiles = outage_app("tiles", 6.0, 11.0)
    apps += [quota, tiles]
    for i in range(6):
        threads.append(herd_client("meter", f"meter-{i + 1}", quota, True, DURATION - 4, 100 + i))
        threads.append(herd_client("viewer", f"viewer-{i + 1}", tiles, False, DURATION - 4, 200 + i))

    for caller_name, dep_name, inject in [("mailer", "templates", False), ("notifier", "renderer", True)]:
        deps, t = propagation_pair(caller_name, dep_name, inject)
        apps += deps
        threads.append(t)

    lock = lockstep_pair()
    apps += lock
    threads.append(browse(f"{lock[2].url}/order", 0.15, 8.0))
    threads.append(browse(f"{lock[3].url}/wish", 0.15, 8.0))

    for t in threads:
        t.join(timeout=DURATION + 30)
    for p in base.PROVIDERS:
        p.force_flush(timeout_millis=10_000)
    for p in base.PROVIDERS:
        p.shutdown()
    truth = {
        "planted": [
            {"rule": "BLK-002", "caller": "storefront-web", "dependency": "recommender", "what": "one connection budget shared by every dependency"},
            {"rule": "DEP-001", "caller": "checkout", "dependency": "reviews", "what": "a reviews failure fails the request"},
            {"rule": "RTY-002", "service": "quota", "what": "every caller flushes its backlog the second quota recovers"},
            {"rule": "CTX-001", "caller": "mailer", "dependency": "templates", "what": "no traceparent sent"},
            {"rule": "ARC-001", "caller": "orders-api", "dependency": "cart", "what": "four fine-grained calls in fixed order per request"},
        ],
        "twins": [
            {"rule": "BLK-002", "caller": "catalog-web", "dependency": "recommender-b", "what": "a budget per dependency"},
            {"rule": "BLK-002", "caller": "catalog-web", "dependency": "prices-b", "what": "a budget per dependency"},
            {"rule": "BLK-002", "caller": "storefront-web", "dependency": "prices", "what": "the victim, not the cause"},
            {"rule": "DEP-001", "caller": "product-page", "dependency": "ratings", "what": "answers degraded"},
            {"rule": "RTY-002", "service": "tiles", "what": "jittered probes, paced drain"},
            {"rule": "CTX-001", "caller": "notifier", "dependency": "renderer", "what": "context injected"},
            {"rule": "ARC-001", "caller": "wishlist-api", "dependency": "cart-summary", "what": "one aggregate call"},
        ],
        "seconds": round(time.time() - T0, 1),
    }
    with open(args.truth, "w") as f:
        json.dump(truth, f, indent=1)
    for a in apps:
        a.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
