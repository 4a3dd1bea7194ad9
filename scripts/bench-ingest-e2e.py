#!/usr/bin/env python3
"""End-to-end ingest throughput of faultline builds, per ../shared/tools/otlp-loadgen/README.md.

Receivers and the `--mode decode` baseline are pinned to core 1, the generator to core 0, and a
decode run sits between every two send runs, so each send run is divided by the mean of the decode
runs around it. The receivers run `faultline record --out -` (no capture writer). Besides the
throughput ratio it prints the receiver's CPU time per acked span against the decode baseline's,
which moves less with the load of a shared machine.

    cd ../shared/tools/otlp-loadgen && cargo build --release   # or a copy of it elsewhere
    cargo build --release && cp target/release/faultline /tmp/faultline-new
    scripts/bench-ingest-e2e.py --loadgen PATH/TO/loadgen new=/tmp/faultline-new [old=...]

Every process it starts is stopped by its PID. Raw rows go to --out (NDJSON).
"""
import argparse
import json
import os
import statistics
import subprocess
import time

TCK = os.sysconf("SC_CLK_TCK")
GRPC, HTTP = "127.0.0.1:14317", "127.0.0.1:14318"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TCK


def loadgen(a, args, core):
    p = subprocess.run(["taskset", "-c", core, a.loadgen, *args], capture_output=True, text=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def decode(a):
    r = loadgen(a, ["--mode", "decode", "--seconds", str(a.seconds), "--warmup", "1"], "1")
    return {"kind": "decode", "spans_per_s": r["spans_per_s"],
            "cpu_us_per_span": r["cpu_pct"] / 100 / r["spans_per_s"] * 1e6}


def send(a, name, binary, proto):
    p = subprocess.Popen(["taskset", "-c", "1", binary, "record", "--out", "-",
                          "--otlp-grpc", GRPC, "--otlp-http", HTTP],
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        ep = f"http://{HTTP}" if proto == "http" else f"http://{GRPC}"
        c0 = cpu_s(p.pid)
        r = loadgen(a, ["--mode", "send", "--protocol", proto, "--endpoint", ep,
                        "--seconds", str(a.seconds), "--warmup", "2"], "0")
        c1 = cpu_s(p.pid)
    finally:
        p.send_signal(2)
        err = p.communicate(timeout=30)[1].strip().splitlines()
    acked = r.get("spans_per_s_acked") or 0
    # CPU covers warm-up and measured seconds; spans/s the measured ones.
    cpu = (c1 - c0) / (acked * (a.seconds + 2)) * 1e6 if acked else None
    return {"kind": f"{name}-{proto}", "spans_per_s": acked, "refused": r.get("refused"),
            "errors": r.get("errors"), "ack_p50_ms": r.get("ack_ms", {}).get("p50"),
            "cpu_us_per_span": cpu, "receiver": err[-1] if err else ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="/tmp/bench-ingest-e2e.ndjson")
    ap.add_argument("builds", nargs="+", help="name=path/to/faultline")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.builds]
    rows = [decode(a)]
    with open(a.out, "w") as out:
        out.write(json.dumps(rows[0]) + "\n")
        for _ in range(a.rounds):
            for proto in ["http", "grpc"]:
                for name, binary in builds:
                    for row in (send(a, name, binary, proto), decode(a)):
                        rows.append(row)
                        out.write(json.dumps(row) + "\n")
                        out.flush()
    res = {}
    for k, r in enumerate(rows):
        if r["kind"] == "decode":
            continue
        base = (rows[k - 1]["spans_per_s"] + rows[k + 1]["spans_per_s"]) / 2
        bcpu = (rows[k - 1]["cpu_us_per_span"] + rows[k + 1]["cpu_us_per_span"]) / 2
        res.setdefault(r["kind"], []).append((r, base, bcpu))
    for kind, v in res.items():
        ratios = [r["spans_per_s"] / b for r, b, _ in v]
        cpus = [bc / r["cpu_us_per_span"] for r, _, bc in v if r["cpu_us_per_span"]]
        print(f"{kind:12} spans/s " + ", ".join(f"{r['spans_per_s']:.0f} ({x:.2f}x)" for (r, _, _), x in zip(v, ratios))
              + f" | median {statistics.median(ratios):.2f}x | CPU per span vs decode: median "
              f"{statistics.median(cpus):.2f}x | refused {sum(r['refused'] or 0 for r, _, _ in v)}, "
              f"errors {sum(r['errors'] or 0 for r, _, _ in v)}")


if __name__ == "__main__":
    main()
