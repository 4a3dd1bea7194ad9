#!/usr/bin/env python3
"""Services on a real PostgreSQL primary and its streaming replica, for the database audits
(DB-001 read replicas, DB-002 connection pooling) of `faultline lint`.

Every query is real: psycopg 3 against the clusters tests/lint_db.rs starts, traced by the
OpenTelemetry psycopg instrumentation (PsycopgInstrumentor), pooled by psycopg_pool. Each
service instance is its own process (this script with `--instance SERVICE N`) with the OTel SDK
(resource service.name + service.instance.id) exporting traces and metrics over OTLP/HTTP to
`faultline record`. A request is a SERVER span;
its queries are the instrumentation's CLIENT spans under it.

  DB-001  orders  -> shop (primary)         20 reads per write, all on the primary  (planted)
          catalog -> catalog (primary + replica)  20:1 too, reads on the replica    (twin)
  DB-002  reports -> reports (primary)      a new connection per request            (planted)
          orders  -> shop                   one psycopg_pool pool                   (twin)
  DB-002  billing -> ledger                 3 instances × a pool of max 10 =
                                            30 > the cluster's max_connections 25   (planted)
          catalog -> 2 pools of max 4                                               (twin)

Pools report `db.client.connection.count` (state idle/used) and `db.client.connection.max`
(OTel semantic conventions) from psycopg_pool's `get_stats()` through observable gauges, the
way an application instruments a pool the SDK has no instrumentation for. Connections stamp
their local socket port on the instrumentation's query span (`network.local.port`) through a
cursor class: psycopg's instrumentation traces the cursor the app passes as `cursor_factory`.

Usage: scenario.py OTLP_HTTP_ENDPOINT PRIMARY_PORT REPLICA_PORT TRUTH_JSON
       (sets the databases up, runs every instance as a child process, writes the truth)
"""

import json
import socket
import subprocess
import sys
import time

import psycopg
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from psycopg_pool import ConnectionPool

ENDPOINT, PRIMARY, REPLICA, TRUTH = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
HOST = "127.0.0.1"


def dsn(port, db):
    return f"host={HOST} port={port} dbname={db} user=postgres"


class PortCursor(psycopg.Cursor):
    """Stamps the connection's local port on the current span: the instrumentation's query
    span, because it traces a subclass of this cursor and calls this `execute` inside it."""

    def execute(self, query, params=None, **kw):
        fd = self.connection.pgconn.socket
        with socket.socket(fileno=socket.dup(fd)) as s:
            port = s.getsockname()[1]
        trace.get_current_span().set_attribute("network.local.port", port)
        return super().execute(query, params, **kw)


class Instance:
    """This process's service instance: the global tracer and meter providers, and the psycopg
    instrumentation on them."""

    def __init__(self, service, instance):
        res = Resource.create({"service.name": service, "service.instance.id": instance})
        self.tp = TracerProvider(resource=res)
        trace.set_tracer_provider(self.tp)
        self.tp.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{ENDPOINT}/v1/traces"))
        )
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{ENDPOINT}/v1/metrics"), export_interval_millis=500
        )
        self.mp = MeterProvider(resource=res, metric_readers=[reader])
        self.tracer = self.tp.get_tracer("db-scenario")
        self.pools = []
        PsycopgInstrumentor().instrument()

    def pool(self, name, port, db, max_size):
        p = ConnectionPool(
            dsn(port, db),
            name=name,
            min_size=1,
            max_size=max_size,
            kwargs={"cursor_factory": PortCursor},
            open=True,
        )
        p.wait(timeout=10)
        self.pools.append(p)
        return p

    def instrument_pools(self):
        meter = self.mp.get_meter("db-scenario.pool")

        def count(_options):
            for p in self.pools:
                s = p.get_stats()
                idle = s.get("pool_available", 0)
                used = s.get("pool_size", 0) - idle
                for state, v in (("idle", idle), ("used", used)):
                    yield Observation(
                        v,
                        {"db.client.connection.state": state, "db.client.connection.pool.name": p.name},
                    )

        def maximum(_options):
            for p in self.pools:
                yield Observation(p.max_size, {"db.client.connection.pool.name": p.name})

        meter.create_observable_up_down_counter(
            "db.client.connection.count", [count], unit="{connection}"
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.max", [maximum], unit="{connection}"
        )

    def request(self, route, work):
        with self.tracer.start_as_current_span(
            f"GET {route}", kind=SpanKind.SERVER, attributes={"http.request.method": "GET", "http.route": route}
        ):
            work()

    def close(self):
        for p in self.pools:
            p.close()
        self.tp.force_flush()
        self.mp.force_flush()
        self.tp.shutdown()
        self.mp.shutdown()


def setup():
    with psycopg.connect(dsn(PRIMARY, "postgres"), autocommit=True) as c:
        for db in ("shop", "catalog", "reports", "ledger"):
            c.execute(f"CREATE DATABASE {db}")
    for db in ("shop", "catalog", "reports", "ledger"):
        with psycopg.connect(dsn(PRIMARY, db), autocommit=True) as c:
            c.execute("CREATE TABLE items (id serial PRIMARY KEY, name text, qty int)")
            c.execute("INSERT INTO items (name, qty) SELECT 'item' || g, g FROM generate_series(1, 50) g")
    # The replica has caught up when it sees the last table.
    deadline = time.time() + 20
    while True:
        try:
            with psycopg.connect(dsn(REPLICA, "catalog")) as c:
                if c.execute("SELECT count(*) FROM items").fetchone()[0] == 50:
                    return
        except psycopg.Error:
            pass
        if time.time() > deadline:
            raise SystemExit("the replica did not catch up within 20 s")
        time.sleep(0.2)


def read(conn, i):
    with conn.cursor() as cur:
        cur.execute("SELECT name, qty FROM items WHERE id = %s", (i % 50 + 1,))
        cur.fetchall()


def write(conn, i):
    with conn.cursor() as cur:
        cur.execute("UPDATE items SET qty = qty + 1 WHERE id = %s", (i % 50 + 1,))
    conn.commit()


def orders():
    inst = Instance("orders", "orders-1")
    pool = inst.pool("shop", PRIMARY, "shop", 4)
    inst.instrument_pools()
    for i in range(210):
        def work(i=i):
            with pool.connection() as c:
                (write if i % 21 == 20 else read)(c, i)
        inst.request("/orders/{id}", work)
    inst.close()


def catalog():
    inst = Instance("catalog", "catalog-1")
    primary = inst.pool("catalog-primary", PRIMARY, "catalog", 4)
    replica = inst.pool("catalog-replica", REPLICA, "catalog", 4)
    inst.instrument_pools()
    for i in range(210):
        def work(i=i):
            if i % 21 == 20:
                with primary.connection() as c:
                    write(c, i)
            else:
                with replica.connection() as c:
                    read(c, i)
        inst.request("/products/{id}", work)
    inst.close()


def reports():
    inst = Instance("reports", "reports-1")
    for i in range(80):
        def work(i=i):
            with psycopg.connect(dsn(PRIMARY, "reports"), cursor_factory=PortCursor) as c:
                (write if i % 2 else read)(c, i)
        inst.request("/reports/{id}", work)
    inst.close()


def billing(n):
    inst = Instance("billing", f"billing-{n}")
    pool = inst.pool("ledger", PRIMARY, "ledger", 10)
    inst.instrument_pools()
    for i in range(70):
        def work(i=i):
            with pool.connection() as c:
                read(c, i)
                write(c, i)
        inst.request("/invoices/{id}", work)
    inst.close()


ROLES = {
    "orders": orders,
    "catalog": catalog,
    "reports": reports,
    "billing": billing,
}


def main():
    if len(sys.argv) == 8 and sys.argv[5] == "--instance":
        service, n = sys.argv[6], int(sys.argv[7])
        f = ROLES[service]
        f(n) if service == "billing" else f()
        return
    setup()
    instances = [("orders", 1), ("catalog", 1), ("reports", 1)] + [("billing", n) for n in (1, 2, 3)]
    children = [
        subprocess.Popen([sys.executable, __file__, *sys.argv[1:5], "--instance", s, str(n)])
        for s, n in instances
    ]
    failed = [f"{s}-{n}: exit {c.wait(timeout=90)}" for (s, n), c in zip(instances, children)]
    failed = [f for f in failed if not f.endswith(": exit 0")]
    if failed:
        raise SystemExit("scenario failed: " + "; ".join(failed))
    truth = {
        "DB-001": {
            "planted": [["orders", "shop"]],
            "twins": [["catalog", "catalog"], ["reports", "reports"], ["billing", "ledger"]],
        },
        "DB-002": {
            "planted": [["reports", "reports"], ["billing", "ledger"]],
            "twins": [["orders", "shop"], ["catalog", "catalog"]],
        },
    }
    with open(TRUTH, "w") as f:
        json.dump(truth, f)
    print("db scenario: done", flush=True)


if __name__ == "__main__":
    main()
