"""Shared parts of scripts/bench-ingest.py and scripts/soak.py: building the three programs,
pinning, the load generator, process sampling. Every process started is stopped by its PID.

Layout (tools/otlp-loadgen/README.md): receivers and the decode baseline on core 1, the load
generator on core 0.
"""
import glob
import json
import os
import signal
import socket
import subprocess
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target")
LOADGEN = os.path.join(TARGET, "loadgen", "release", "loadgen")
FAULTLINE = os.path.join(TARGET, "release", "faultline")
ROTEL_VERSION = "0.0.1a15"
ROTEL = os.path.join(TARGET, "rotel", "rotel-agent")
GEN_CORE, RECV_CORE = "0", "1"
TCK = os.sysconf("SC_CLK_TCK")
GRPC, HTTP = "127.0.0.1:14317", "127.0.0.1:14318"
ROTEL_GRPC, ROTEL_HTTP = "127.0.0.1:24317", "127.0.0.1:24318"


def build(rotel=True):
    """Builds faultline (release) and the load generator; fetches rotel's wheel from PyPI."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "faultline"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.join(ROOT, "tools", "otlp-loadgen"),
                   env={**os.environ, "CARGO_TARGET_DIR": os.path.join(TARGET, "loadgen")}, check=True)
    if rotel and not os.access(ROTEL, os.X_OK):
        d = os.path.join(TARGET, "rotel")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["pip", "download", "--quiet", "--no-deps", "-d", d, f"rotel=={ROTEL_VERSION}"], check=True)
        wheel = sorted(glob.glob(os.path.join(d, f"rotel-{ROTEL_VERSION}-*.whl")))[-1]
        with zipfile.ZipFile(wheel) as z, open(ROTEL, "wb") as out:
            out.write(z.read("rotel/rotel-agent"))
        os.chmod(ROTEL, 0o755)


def loadavg():
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TCK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def wait_port(addr, timeout=15.0):
    host, port = addr.rsplit(":", 1)
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection((host, int(port)), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{addr} did not open")


def loadgen(args, core=GEN_CORE):
    """Runs the load generator; returns its JSON line."""
    p = subprocess.run(["taskset", "-c", core, LOADGEN, *args], capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"loadgen {' '.join(args)}: {p.stderr[-500:]}")
    return json.loads(lines[-1])


class Receiver:
    """A receiver pinned to the receiver core; stderr to a log file."""

    def __init__(self, name, cmd, log_dir, env=None):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "w+")
        self.p = subprocess.Popen(["taskset", "-c", RECV_CORE, *cmd], stdout=self.log, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})})
        self.pid = self.p.pid  # taskset execs: this is the receiver's own PID

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.seek(0)
        return self.log.read()


def faultline(log_dir, stats_ms=None):
    env = {"FAULTLINE_STATS_MS": str(stats_ms)} if stats_ms else {}
    r = Receiver("faultline", [FAULTLINE, "record", "--out", "-", "--otlp-grpc", GRPC, "--otlp-http", HTTP],
                 log_dir, env)
    wait_port(GRPC)
    wait_port(HTTP)
    return r


def rotel(log_dir):
    r = Receiver("rotel", [ROTEL, "start", "--exporter", "blackhole", "--otlp-grpc-endpoint", ROTEL_GRPC,
                           "--otlp-http-endpoint", ROTEL_HTTP, "--pid-file", os.path.join(log_dir, "rotel.pid"),
                           "--log-file", os.path.join(log_dir, "rotel-agent.log")], log_dir)
    wait_port(ROTEL_GRPC)
    wait_port(ROTEL_HTTP)
    time.sleep(0.5)
    return r


def stats_lines(text):
    """faultline's FAULTLINE_STATS_MS lines."""
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"stats"' in line:
            out.append(json.loads(line))
    return out


class Rounds:
    """Hands every send run its own replay numbers, so no run repeats another's ids."""

    def __init__(self):
        self.next = 1

    def take(self, spans, batch=512, min_distinct=32):
        # A replay number covers one pass over the corpus (60-64 requests by shape): count low.
        r = self.next
        self.next += spans // (batch * min_distinct) + 2
        return str(r)
