#!/usr/bin/env python3
"""Soak: faultline at half of its capacity, retention full, for --minutes (default 10).

1. faultline `record --out -` on core 1 (stats every 5 s on stderr), the load generator on core 0;
2. fill the retention (1.1M spans), measure capacity (closed loop, 10 s);
3. open loop at half of it for --minutes, sampling RSS every 5 s;
4. checks, and exits non-zero when one fails:
   - RSS after the fill stays within ±10 % of its median;
   - every acknowledged span is stored or counted as evicted: accepted spans = acked spans, and
     retained + evicted = accepted (fresh ids: no duplicates);
   - pending calls do not grow: the largest count in the last third is at most 10 % above the
     largest in the first third.

    scripts/soak.py [--minutes 10] [--shape traces] [--protocol http]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest_common as ic  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--shape", default="traces")
    ap.add_argument("--protocol", default="http", choices=["http", "grpc"])
    ap.add_argument("--rate", type=int, help="spans/s (default: half of the measured capacity)")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        ic.build(rotel=False)
    work = tempfile.mkdtemp(prefix="soak-")
    addr = ic.HTTP if a.protocol == "http" else ic.GRPC
    send = ["--mode", "send", "--protocol", a.protocol, "--endpoint", f"http://{addr}", "--shape", a.shape,
            "--concurrency", "4"]
    rounds = ic.Rounds()
    print(f"load average before: {ic.loadavg()}", flush=True)
    fl = ic.faultline(work, stats_ms=5000)
    acked = 0
    samples = []
    try:
        r = ic.loadgen([*send, "--spans", "1100000", "--first-round", rounds.take(1_100_000)])
        acked += r["spans_acked"]
        if a.rate:
            rate = a.rate
        else:
            r = ic.loadgen([*send, "--seconds", "10", "--first-round", rounds.take(30_000_000)])
            acked += r["spans_acked"]
            rate = int(r["spans_per_s_acked"] / 2)
        print(f"filled; soaking at {rate:,} spans/s for {a.minutes:g} min", flush=True)
        secs = a.minutes * 60
        done = threading.Event()
        result = {}

        def run():
            result["r"] = ic.loadgen([*send, "--seconds", str(secs), "--rate", str(rate),
                                      "--first-round", rounds.take(int(rate * secs))])
            done.set()

        t = threading.Thread(target=run)
        t0 = time.time()
        t.start()
        while not done.wait(5.0):
            samples.append((round(time.time() - t0), ic.rss_kb(fl.pid)))
            print(f"t={samples[-1][0]:>4} s  rss={samples[-1][1] / 1024:,.0f} MiB", flush=True)
        t.join()
        r = result["r"]
        acked += r["spans_acked"]
        soak = r
    finally:
        out = fl.stop()
    stats = ic.stats_lines(out)
    final = stats[-1] if stats else {}
    rss = [kb for _, kb in samples]
    med = statistics.median(rss) if rss else 0
    lo, hi = (min(rss) / med - 1, max(rss) / med - 1) if rss else (0, 0)
    third = max(1, len(stats) // 3)
    first_pending = max((s["pending_calls"] for s in stats[:third]), default=0)
    last_pending = max((s["pending_calls"] for s in stats[-third:]), default=0)
    checks = [
        (f"RSS within ±10 % of its median ({med / 1024:,.0f} MiB): {lo:+.1%} .. {hi:+.1%}", -0.10 <= lo and hi <= 0.10),
        (f"accepted spans {final.get('spans'):,} = acked {acked:,}", final.get("spans") == acked),
        (f"retained {final.get('retained_spans'):,} + evicted {final.get('evicted_spans'):,} = accepted "
         f"(duplicates {final.get('duplicate_spans'):,}: fresh ids, so none)",
         final.get("retained_spans", 0) + final.get("evicted_spans", 0) == final.get("spans")
         and final.get("duplicate_spans") == 0),
        (f"pending calls: first third max {first_pending:,}, last third max {last_pending:,}",
         last_pending <= first_pending * 1.1 + 1000),
        (f"soak run: {soak['spans_per_s_acked']:,.0f} spans/s acked, ack p99 {soak['ack_ms']['p99']} ms, "
         f"refused {soak['refused']}, errors {soak['errors']}", soak["errors"] == 0 and soak["refused"] == 0),
    ]
    print(f"\nload average after: {ic.loadavg()}")
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    with open(os.path.join(ic.TARGET, "soak.json"), "w") as f:
        json.dump({"samples": samples, "stats": stats, "soak": soak, "acked": acked}, f)
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
