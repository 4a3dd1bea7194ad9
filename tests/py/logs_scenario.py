"""Python `logging` through the OpenTelemetry SDK's log exporter (tests/logs_python.rs).

A service `shop` handles one request as a trace of three spans and logs with the standard
`logging` module, bridged by the SDK's `LoggingHandler` to `OTLPLogExporter` (gRPC or
HTTP/protobuf); spans go to `OTLPSpanExporter`. It writes the ground truth as JSON: the trace id,
each span's id and status, and the messages logged in each span and outside any span.

    logs_scenario.py grpc|http ENDPOINT TRUTH.json

The request:

    checkout (SERVER)          logs INFO  "checkout started order=42"
      charge (CLIENT)          logs WARNING "card declined once, retrying", ERROR "payment declined"
      audit (INTERNAL)         logs an exception (logger.exception on a caught ValueError)

and, outside any span, INFO "background sweep done" (no trace id: listed by service only).
No span sets an error status: the ERROR record alone must make `charge` an error, and the
exception record `audit`.
"""

import json
import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind


def exporters(kind, endpoint):
    if kind == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        ep = endpoint.removeprefix("http://")
        return (OTLPSpanExporter(endpoint=ep, insecure=True, timeout=20),
                OTLPLogExporter(endpoint=ep, insecure=True, timeout=20))
    if kind == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = (endpoint if endpoint.startswith("http") else "http://" + endpoint).rstrip("/")
        return (OTLPSpanExporter(endpoint=base + "/v1/traces", timeout=20),
                OTLPLogExporter(endpoint=base + "/v1/logs", timeout=20))
    raise SystemExit(f"logs_scenario.py: unknown exporter {kind!r} (grpc|http)")


def main():
    kind, endpoint, truth_path = sys.argv[1:4]
    span_exp, log_exp = exporters(kind, endpoint)
    resource = Resource.create({"service.name": "shop"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(span_exp, schedule_delay_millis=100))
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(log_exp, schedule_delay_millis=100))

    log = logging.getLogger("shop.checkout")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=lp))

    tracer = tp.get_tracer("shop")
    spans = {}
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as checkout:
        log.info("checkout started order=%d", 42)
        with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as charge:
            log.warning("card declined once, retrying")
            log.error("payment declined")
        with tracer.start_as_current_span("audit") as audit:
            try:
                raise ValueError("audit ledger unavailable")
            except ValueError:
                log.exception("audit failed")
        for name, s in (("checkout", checkout), ("charge", charge), ("audit", audit)):
            spans[name] = format(s.get_span_context().span_id, "016x")
        trace_id = format(checkout.get_span_context().trace_id, "032x")
    log.info("background sweep done")

    ok_logs = lp.force_flush(30_000)
    ok_spans = tp.force_flush(30_000)
    lp.shutdown()
    tp.shutdown()
    truth = {
        "trace_id": trace_id,
        "spans": spans,
        "logs": {
            "checkout": ["checkout started order=42"],
            "charge": ["card declined once, retrying", "payment declined"],
            "audit": ["audit failed"],
        },
        "errors": ["charge", "audit"],
        "untraced": ["background sweep done"],
        "exception": {"type": "ValueError", "message": "audit ledger unavailable"},
    }
    with open(truth_path, "w") as f:
        json.dump(truth, f)
    if not (ok_logs and ok_spans):
        print(f"flush failed: logs={ok_logs} spans={ok_spans}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
