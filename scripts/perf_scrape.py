#!/usr/bin/env python3
"""CPU of a real `faultline record` scraping 50 targets every 5 s (docs/performance.md, Metrics).

Serves the real expositions of tests/fixtures/prom/real (plus, every fifth target, a generated
2,000-series JVM-style one) on 50 loopback ports from this process, runs the release binary
`faultline record --scrape …×50 --scrape-interval 5s --duration D` and reads the child's CPU
time (user + system, from wait4). A baseline run with no target, same duration, goes first: the
difference is what scraping costs. Only 127.0.0.1; bounded by D.

    cargo build --release && python3 scripts/perf_scrape.py [--duration 60] [--targets 50]
"""

import argparse
import os
import pathlib
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests/fixtures/prom/real"


def jvm(i):
    lines = ["# TYPE resilience4j_circuitbreaker_state gauge"]
    for b in range(20):
        for st in ["closed", "open", "half_open", "forced_open", "disabled", "metrics_only"]:
            lines.append(f'resilience4j_circuitbreaker_state{{application="app{i}",name="dep-{i}-{b}",state="{st}"}} {1 if st == "closed" else 0}.0')
    lines.append("# TYPE http_server_requests_seconds histogram")
    for u in range(40):
        for le in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]:
            lines.append(f'http_server_requests_seconds_bucket{{method="GET",status="200",uri="/api/{u}",le="{le}"}} {u * 10}')
        lines.append(f'http_server_requests_seconds_count{{method="GET",status="200",uri="/api/{u}"}} {u * 10}')
        lines.append(f'http_server_requests_seconds_sum{{method="GET",status="200",uri="/api/{u}"}} {u}.5')
    lines.append("# TYPE jvm_memory_used_bytes gauge")
    for a in range(1300):
        lines.append(f'jvm_memory_used_bytes{{area="heap",id="pool-{a}"}} {a * 1024}')
    return "\n".join(lines) + "\n"


def bodies(n):
    real = [(FIX / f).read_text() for f in ["opossum-prometheus.txt", "prometheus-client-r4j-hystrix.txt", "haproxy-promex.txt", "prometheus-self.txt"]]
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append(jvm(i))
        else:
            out.append(real[i % 4].replace("inventory", f"inventory-{i}").replace("payments", f"payments-{i}").replace('"slow"', f'"slow-{i}"'))
    return [b.encode() for b in out]


def serve(body):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    s = ThreadingHTTPServer(("127.0.0.1", 0), H)
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def run(binary, urls, duration, out, extra=()):
    args = [str(binary), "record", *extra, "--out", out, "--duration", f"{duration}s", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--scrape-interval", "5s"]
    for i, u in enumerate(urls):
        args += ["--scrape", f"svc-{i}={u}"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"faultline record exited with {status}")
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--binary", default=str(ROOT / "target/release/faultline"))
    ap.add_argument("--all-series", action="store_true", help="pass --scrape-all-series (record every series)")
    a = ap.parse_args()
    servers = [serve(b) for b in bodies(a.targets)]
    urls = [f"http://127.0.0.1:{s.server_address[1]}/metrics" for s in servers]
    lines = sum(b.count(b"\n") for b in bodies(a.targets))
    with tempfile.TemporaryDirectory() as d:
        base, _ = run(a.binary, [], a.duration, os.path.join(d, "idle.jsonl"))
        extra = ["--scrape-all-series"] if a.all_series else []
        cpu, rss = run(a.binary, urls, a.duration, os.path.join(d, "scrape.jsonl"), extra)
        size = os.path.getsize(os.path.join(d, "scrape.jsonl"))
    pct = lambda c: c / a.duration * 100
    mode = "every series" if a.all_series else "mapped series"
    print(f"perf_scrape: {a.targets} targets ({lines} lines per round), every 5 s, {a.duration} s, recording {mode}")
    print(f"  idle faultline:      {base:.2f} s CPU = {pct(base):.2f} % of one core")
    print(f"  scraping faultline:  {cpu:.2f} s CPU = {pct(cpu):.2f} % of one core (budget 5 %), max RSS {rss / 1024:.0f} MiB")
    print(f"  scraping cost:       {pct(cpu - base):.2f} % of one core; capture {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
