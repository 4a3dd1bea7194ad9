#!/usr/bin/env python3
"""Ingest at steady state: faultline and rotel against a one-thread prost decode, in one run.

For each corpus shape (`--shape traces`, `--shape spans` of tools/otlp-loadgen):
  1. faultline `record --out -` (receivers + store, no capture writer) on core 1; its default
     retention (1M spans) is filled first (1.1M spans), so every measured run finds it full and
     evicting, calls settling and snapshots publishing;
  2. rounds of  decode | faultline HTTP | decode | faultline gRPC | decode | rotel HTTP | decode |
     rotel gRPC | decode, each send run divided by the mean of the decode runs around it
     (rotel: PyPI wheel, blackhole exporter);
  3. faultline at half of its measured capacity (open loop), for the ack p99;
  4. faultline's RSS per retained span against the corpus' protobuf bytes per span.
Every send run carries fresh ids (the load generator's default) and its own replay numbers.
Prints the tables docs/performance.md reports, with the load average; raw rows go to --out.

    scripts/bench-ingest.py [--rounds 3] [--seconds 10] [--shapes traces,spans] [--faultline BIN]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest_common as ic  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--shapes", default="traces,spans")
    ap.add_argument("--fill", type=int, default=1_100_000, help="spans sent before measuring")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-rotel", action="store_true")
    ap.add_argument("--out", default=os.path.join(ic.TARGET, "bench-ingest.ndjson"))
    ap.add_argument("--faultline", help="measure this faultline binary (e.g. an earlier build kept for a "
                    "before/after pair of runs) instead of target/release/faultline")
    a = ap.parse_args()
    if a.faultline:
        ic.FAULTLINE = os.path.abspath(a.faultline)
    if not a.no_build:
        ic.build(rotel=not a.no_rotel)
    work = tempfile.mkdtemp(prefix="bench-ingest-")
    rows, rounds = [], ic.Rounds()
    load_before = ic.loadavg()
    timed = ["--seconds", str(a.seconds), "--warmup", "1", "--concurrency", "4"]

    def emit(row):
        rows.append(row)
        short = {k: row.get(k) for k in ("shape", "kind", "spans_per_s", "ratio", "ack_p99_ms", "refused", "errors")}
        print(json.dumps(short), flush=True)

    for shape in a.shapes.split(","):
        sh = ["--shape", shape]
        fl = ic.faultline(work, stats_ms=1000)
        rt = None if a.no_rotel else ic.rotel(work)
        try:
            fill = ic.loadgen(["--mode", "send", "--protocol", "http", "--endpoint", f"http://{ic.HTTP}", *sh,
                               "--spans", str(a.fill), "--concurrency", "4", "--first-round",
                               rounds.take(a.fill)])
            emit({"shape": shape, "kind": "fill", "spans_per_s": fill["spans_per_s_acked"],
                  "refused": fill["refused"], "errors": fill["errors"]})
            bytes_per_span = fill["corpus"]["bytes_per_span"]

            def decode():
                r = ic.loadgen(["--mode", "decode", *sh, "--seconds", str(a.seconds), "--warmup", "1"], ic.RECV_CORE)
                emit({"shape": shape, "kind": "decode", "spans_per_s": r["spans_per_s"]})
                return r["spans_per_s"]

            targets = [("faultline-http", fl, "http", ic.HTTP), ("faultline-grpc", fl, "grpc", ic.GRPC)]
            if rt:
                targets += [("rotel-http", rt, "http", ic.ROTEL_HTTP), ("rotel-grpc", rt, "grpc", ic.ROTEL_GRPC)]
            last = decode()
            for _ in range(a.rounds):
                for kind, proc, proto, addr in targets:
                    c0 = ic.cpu_s(proc.pid)
                    r = ic.loadgen(["--mode", "send", "--protocol", proto, "--endpoint", f"http://{addr}", *sh,
                                    *timed, "--first-round", rounds.take(int(2e6 * (a.seconds + 1)))])
                    c1 = ic.cpu_s(proc.pid)
                    after = decode()
                    acked = r["spans_per_s_acked"]
                    emit({"shape": shape, "kind": kind, "spans_per_s": acked,
                          "ratio": round(acked / ((last + after) / 2), 3), "ack_p99_ms": r["ack_ms"]["p99"],
                          "ack_p50_ms": r["ack_ms"]["p50"], "refused": r["refused"], "errors": r["errors"],
                          "recv_cpu_pct": round((c1 - c0) / (a.seconds + 1) * 100, 1),
                          "rss_kb": ic.rss_kb(proc.pid)})
                    last = after
            # Half of capacity, open loop (latency from the intended send time).
            for kind, proto, addr in [("faultline-http", "http", ic.HTTP), ("faultline-grpc", "grpc", ic.GRPC)]:
                cap = statistics.median(x["spans_per_s"] for x in rows if x["shape"] == shape and x["kind"] == kind)
                r = ic.loadgen(["--mode", "send", "--protocol", proto, "--endpoint", f"http://{addr}", *sh, *timed,
                                "--rate", str(int(cap / 2)), "--first-round", rounds.take(int(cap * (a.seconds + 1)))])
                emit({"shape": shape, "kind": f"{kind}-half", "spans_per_s": r["spans_per_s_acked"],
                      "ack_p99_ms": r["ack_ms"]["p99"], "ack_p50_ms": r["ack_ms"]["p50"],
                      "refused": r["refused"], "errors": r["errors"]})
            rss = ic.rss_kb(fl.pid)
        finally:
            out = fl.stop()
            if rt:
                rt.stop()
        final = (ic.stats_lines(out) or [{}])[-1]
        retained = final.get("retained_spans") or 1
        emit({"shape": shape, "kind": "memory", "rss_kb": rss, "retained_spans": retained,
              "pending_calls": final.get("pending_calls"), "bytes_per_span": bytes_per_span,
              "rss_per_span": round(rss * 1024 / retained), "ratio": round(rss * 1024 / retained / bytes_per_span, 2),
              "evicted_spans": final.get("evicted_spans"), "duplicate_spans": final.get("duplicate_spans")})
    load_after = ic.loadavg()
    with open(a.out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")

    def cell(shape, kind, key="ratio", fmt="{:.2f}×"):
        xs = [r[key] for r in rows if r["shape"] == shape and r["kind"] == kind and r.get(key) is not None]
        if not xs:
            return "-"
        m = statistics.median(xs)
        return fmt.format(m) + (f" ({fmt.format(min(xs))}–{fmt.format(max(xs))})" if len(xs) > 1 else "")

    print(f"\nload average (1/5/15 min): before {load_before}, after {load_after}; "
          f"{a.rounds} rounds of {a.seconds:g} s; medians (min–max)\n")
    print("| traffic | faultline HTTP | faultline gRPC | rotel HTTP | rotel gRPC | decode (prost, 1 thread) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for shape in a.shapes.split(","):
        print(f"| `--shape {shape}`, store full | {cell(shape, 'faultline-http')} | {cell(shape, 'faultline-grpc')} | "
              f"{cell(shape, 'rotel-http')} | {cell(shape, 'rotel-grpc')} | "
              f"{cell(shape, 'decode', 'spans_per_s', '{:,.0f}')} spans/s |")
    print("\n| ack p99 (ms) | faultline HTTP, 4 in flight | faultline gRPC, 4 in flight | HTTP at half capacity "
          "| gRPC at half capacity | rotel HTTP, 4 in flight |")
    print("| --- | --- | --- | --- | --- | --- |")
    ms = "{:.1f}"
    for shape in a.shapes.split(","):
        print(f"| `--shape {shape}` | {cell(shape, 'faultline-http', 'ack_p99_ms', ms)} | "
              f"{cell(shape, 'faultline-grpc', 'ack_p99_ms', ms)} | {cell(shape, 'faultline-http-half', 'ack_p99_ms', ms)} | "
              f"{cell(shape, 'faultline-grpc-half', 'ack_p99_ms', ms)} | {cell(shape, 'rotel-http', 'ack_p99_ms', ms)} |")
    print("\n| memory | retained spans | RSS | per span | ÷ protobuf bytes per span |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        if r["kind"] == "memory":
            print(f"| `--shape {r['shape']}` | {r['retained_spans']:,} | {r['rss_kb'] / 1024:,.0f} MiB | "
                  f"{r['rss_per_span']} B | {r['ratio']}× ({r['bytes_per_span']} B) |")
    print(f"\nraw rows: {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
