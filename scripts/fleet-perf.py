#!/usr/bin/env python3
"""Query time and memory of faultline's fleet source at 2,000 services / 22,000 edges, as
ratios to same-run baselines (docs/performance.md, "Fleet scale"). Bounded: about 2 minutes.

  1. A VictoriaMetrics on 127.0.0.1 (free port, temp storage) loaded by tests/py/fleet_gen.py
     with the Collector's service-graph and span-metrics series (2,000 services x 10 edges,
     plus 2,000 span-metrics database edges).
  2. Query time: `faultline report --prometheus` over the last 5 minutes (process start, name
     resolution, the round's queries, rows, JSON) against the backend's own time to answer the
     same PromQL, sent concurrently with plain HTTP (urllib). Median of 3 each.
  3. Memory: peak RSS of `faultline record --out - --prometheus URL` (the live store task
     merging 22,000 rows into every snapshot, 4 a second) against `record --out -` with no
     source, each for 15 s; and the peak RSS of one `report --prometheus` round (no live store),
     which separates decoding the answers from the snapshots.
Prints the load average before and after, and one JSON line of results.

usage: scripts/fleet-perf.py [--bin target/debug/faultline] [--services 2000] [--fanout 10]
"""
import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, timeout=120):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait(url, what, deadline=60):
    end = time.time() + deadline
    while True:
        try:
            get(url, 2)
            return
        except Exception:
            if time.time() > end:
                sys.exit(f"fleet-perf: {what} not ready")
            time.sleep(0.2)


def raw_queries(w):
    by_span = "service_name, service, " + ", ".join(
        a.replace(".", "_") for a in [
            "service.peer.name", "peer.service", "service.peer.namespace", "db.system.name",
            "db.system", "db.namespace", "db.name", "messaging.system",
            "messaging.destination.name", "messaging.destination", "rpc.system.name",
            "rpc.system", "rpc.service", "server.address", "server.port", "net.peer.name",
            "net.peer.port", "http.host"])
    g = "client, server, connection_type"
    kinds = 'span_kind=~"SPAN_KIND_CLIENT|SPAN_KIND_PRODUCER"'
    return [
        f"sum by ({g}) (increase(traces_service_graph_request_total[{w}s]))",
        f"sum by ({g}) (increase(traces_service_graph_request_failed_total[{w}s]))",
        f"sum by ({g}, le) (rate(traces_service_graph_request_client_seconds_bucket[{w}s]))",
        f"sum by ({by_span}) (increase(traces_span_metrics_calls_total{{{kinds}}}[{w}s]))",
        f'sum by ({by_span}) (increase(traces_span_metrics_calls_total{{{kinds}, status_code="STATUS_CODE_ERROR"}}[{w}s]))',
        f"sum by ({by_span}, le) (rate(traces_span_metrics_duration_milliseconds_bucket{{{kinds}}}[{w}s]))",
    ]


def rss_peak(cmd, secs):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    end = time.time() + secs
    while time.time() < end and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]))
        except FileNotFoundError:
            break
        time.sleep(0.25)
    p.terminate()
    p.wait(timeout=30)
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/faultline"))
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--fanout", type=int, default=10)
    a = ap.parse_args()
    load_before = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="fleet-perf-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    vm = subprocess.Popen(
        ["victoria-metrics", f"-storageDataPath={tmp}/data", f"-httpListenAddr=127.0.0.1:{port}",
         "-search.latencyOffset=0s", "-search.disableCache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(f"{url}/health", "victoria-metrics")
        now = int(time.time())
        t0 = time.time()
        gen = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests/py/fleet_gen.py"), "--services",
             str(a.services), "--fanout", str(a.fanout), "--now", str(now), "--post",
             f"{url}/api/v1/import/prometheus"], check=True, capture_output=True, text=True)
        loaded = json.loads(gen.stdout)
        load_s = time.time() - t0
        get(f"{url}/internal/force_flush")
        at = now

        def raw_round():
            qs = raw_queries(300)
            t = time.time()
            with concurrent.futures.ThreadPoolExecutor(len(qs)) as ex:
                sizes = list(ex.map(lambda q: len(get(
                    f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": at}))), qs))
            return time.time() - t, sum(sizes)

        def faultline_round():
            t = time.time()
            out = subprocess.run(
                [a.bin, "report", "--prometheus", url, "--format", "json", "--from",
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at - 300)), "--to",
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))],
                check=True, capture_output=True)
            return time.time() - t, len(json.loads(out.stdout))

        raw_round()  # warm the backend's caches of series ids once for both
        raw = [raw_round() for _ in range(3)]
        fl = [faultline_round() for _ in range(3)]
        raw_s = statistics.median(r[0] for r in raw)
        fl_s = statistics.median(r[0] for r in fl)
        empty = rss_peak([a.bin, "record", "--out", "-", "--otlp-grpc", "127.0.0.1:0",
                          "--otlp-http", "127.0.0.1:0", "--duration", "15s"], 15)
        fleet = rss_peak([a.bin, "record", "--out", "-", "--otlp-grpc", "127.0.0.1:0",
                          "--otlp-http", "127.0.0.1:0", "--duration", "15s", "--prometheus", url,
                          "--prometheus-interval", "5s", "--prometheus-timeout", "60s"], 15)
        # One round with no live store: separates the answers' decoding from the snapshots.
        one_round = rss_peak([a.bin, "report", "--prometheus", url, "--format", "json", "--from",
                              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at - 300)), "--to",
                              time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))], 60)
        print(json.dumps({
            "series": loaded["series"], "edges": loaded["edges"], "load_s": round(load_s, 1),
            "rows": fl[0][1], "raw_answer_bytes": raw[0][1],
            "raw_queries_s": round(raw_s, 2), "faultline_report_s": round(fl_s, 2),
            "report_over_raw": round(fl_s / raw_s, 2),
            "rss_empty_kib": empty, "rss_fleet_kib": fleet,
            "rss_fleet_over_empty": round(fleet / max(empty, 1), 2),
            "rss_report_one_round_kib": one_round,
            "loadavg_before": load_before,
            "loadavg_after": open("/proc/loadavg").read().split()[:3],
        }))
    finally:
        vm.terminate()
        vm.wait(timeout=30)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
