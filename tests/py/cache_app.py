"""A service that reads through two caches, with known hit and miss counts (tests/cache_redis.rs).

- A real Redis (the test starts redis-server) used through `redis` and the OpenTelemetry Redis
  instrumentation (`RedisInstrumentor`). Its `response_hook` records what the reply returned as
  `db.response.returned_rows` (the semantic conventions' attribute for reads): 0 for a GET/HGET
  that found nothing, the number of values an MGET found. Spans go over OTLP/gRPC to faultline.
- An in-process LRU cache `prices` with no spans, counted the way Micrometer counts a cache:
  `cache_gets_total{cache="prices", result="hit"|"miss"}` on a prometheus_client endpoint that
  faultline scrapes.

Usage: cache_app.py REDIS_PORT OTLP_GRPC_ENDPOINT METRICS_PORT TRUTH_JSON

The script waits for faultline's first scrape before any lookup (the counters start at 0), and
for two more after the last one (so the final counts are scraped), then writes the truth: how
many lookups hit and missed, per cache.
"""

import json
import sys
import threading
import time
from collections import OrderedDict

import redis
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import REGISTRY, Counter, start_http_server

SERVICE = "cache-app"
redis_port, endpoint, metrics_port, truth_path = (
    int(sys.argv[1]),
    sys.argv[2],
    int(sys.argv[3]),
    sys.argv[4],
)

# ------------------------------------------------------------------ scrapes seen
scrapes = 0
scraped = threading.Condition()


class ScrapeCounter:
    """A collector that yields nothing and counts the scrapes (collect runs once per scrape)."""

    def describe(self):
        return []

    def collect(self):
        global scrapes
        with scraped:
            scrapes += 1
            scraped.notify_all()
        return []


def wait_scrapes(n, timeout=60):
    deadline = time.time() + timeout
    with scraped:
        while scrapes < n:
            left = deadline - time.time()
            if left <= 0:
                raise SystemExit(f"faultline did not scrape {n} times in {timeout}s (saw {scrapes})")
            scraped.wait(left)


REGISTRY.register(ScrapeCounter())
gets = Counter("cache_gets", "Cache lookups (Micrometer's cache.gets)", ["cache", "result"])
for result in ("hit", "miss"):
    gets.labels(cache="prices", result=result)
start_http_server(metrics_port, addr="127.0.0.1")

# ------------------------------------------------------------------ tracing
provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))


def response_hook(span, instance, response):
    """What the reply returned, as `db.response.returned_rows`, for the read commands."""
    command = span.name.upper()
    if command in ("GET", "HGET"):
        span.set_attribute("db.response.returned_rows", 0 if response is None else 1)
    elif command == "MGET":
        span.set_attribute("db.response.returned_rows", sum(v is not None for v in response))


RedisInstrumentor().instrument(tracer_provider=provider, response_hook=response_hook)
r = redis.Redis(host="127.0.0.1", port=redis_port)
tracer = provider.get_tracer("cache_app")

# ------------------------------------------------------------------ the workload
truth = {"redis": {"hits": 0, "misses": 0}, "prices": {"hits": 0, "misses": 0}}


def count(cache, hit):
    truth[cache]["hits" if hit else "misses"] += 1


def get_user(uid):
    """Read-through: GET, on a miss load and SET (the SET is no lookup)."""
    value = r.get(f"user:{uid}")
    count("redis", value is not None)
    if value is None:
        r.set(f"user:{uid}", f"user {uid}")


prices = OrderedDict()


def price(sku):
    """An in-process LRU of 20 entries, counted like Micrometer's cache.gets."""
    if sku in prices:
        prices.move_to_end(sku)
        gets.labels(cache="prices", result="hit").inc()
        count("prices", True)
        return prices[sku]
    gets.labels(cache="prices", result="miss").inc()
    count("prices", False)
    prices[sku] = sku * 3
    if len(prices) > 20:
        prices.popitem(last=False)
    return prices[sku]


wait_scrapes(1)
r.flushdb()
# 150 user lookups over 100 keys: the first 100 miss, the last 50 hit (a cache that rarely hits).
for i in range(150):
    with tracer.start_as_current_span(f"GET /users/{i % 100}", kind=trace.SpanKind.SERVER):
        get_user(i % 100)
# One MGET that finds two of three keys (a hit), one HGET of a missing hash (a miss).
found = r.mget(["user:1", "user:2", "user:nobody"])
count("redis", any(v is not None for v in found))
count("redis", r.hget("sessions", "nobody") is not None)
# 200 price lookups over 10 skus (all fit in the LRU): 10 misses, 190 hits.
for i in range(200):
    price(i % 10)

after = scrapes
provider.force_flush()
provider.shutdown()
wait_scrapes(after + 2)
with open(truth_path, "w") as f:
    json.dump(truth, f)
print(json.dumps(truth))
