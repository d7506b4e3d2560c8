"""Studio load benchmark: N queued requests through /v1/videos on the offline default at 360p.

    .venv/bin/python benchmarks/bench_server.py [--requests 50] [--seconds 4] [--workers 2] [--probes 400]

Starts `reelwright serve` in a fresh REELWRIGHT_HOME, measures API latency idle (nothing queued), then queues
every request at once and, while the workers render, keeps measuring the same calls side by side: retrieve one
video, list 20, health. Reports p50/p99 of each phase and their ratio, the server's RSS (sampled; the workers are
separate processes and reported apart), how long the queue took, and whether every video is exact to the frame."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx

warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*Sora.*")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Direct children by their parent pid (the workers), read from /proc/*/stat."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def latency_round(http: httpx.Client, video_id: str | None) -> dict[str, float]:
    out = {}
    for name, path in (("retrieve", f"/v1/videos/{video_id}" if video_id else "/api/health"),
                       ("list", "/v1/videos?limit=20"), ("health", "/api/health")):
        t0 = time.perf_counter()
        r = http.get(path)
        out[name] = (time.perf_counter() - t0) * 1000
        r.raise_for_status()
    return out


def summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for name in samples[0]:
        values = sorted(s[name] for s in samples)
        p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
        out[name] = {"p50_ms": round(statistics.median(values), 2), "p99_ms": round(p99, 2), "n": len(values)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--probes", type=int, default=400, help="latency rounds while the workers render")
    args = ap.parse_args()

    from openai import OpenAI

    from reelwright.media import probe

    home = Path(tempfile.mkdtemp(prefix="rw-bench-server-"))
    port = free_port()
    env = {**os.environ, "REELWRIGHT_HOME": str(home)}
    server = subprocess.Popen([sys.executable, "-m", "reelwright", "serve", "--port", str(port), "--workers",
                               str(args.workers), "--max-queued", str(args.requests + 10)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    rss = {"server_peak_mb": 0.0, "workers_peak_mb": 0.0}
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.is_set():
            rss["server_peak_mb"] = max(rss["server_peak_mb"], rss_mb(server.pid))
            rss["workers_peak_mb"] = max(rss["workers_peak_mb"], sum(rss_mb(c) for c in children(server.pid)))
            time.sleep(0.2)

    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(300):
                try:
                    if http.get("/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            threading.Thread(target=sample_rss, daemon=True).start()
            client = OpenAI(base_url=base + "/v1", api_key="local", max_retries=0)
            idle = [latency_round(http, None) for _ in range(100)]
            rss["server_idle_mb"] = rss_mb(server.pid)

            t0 = time.perf_counter()
            ids = [client.videos.create(prompt=f"a paper boat number {i} drifting down a rain gutter",
                                        seconds=f"{args.seconds:g}", size="640x360").id
                   for i in range(args.requests)]
            submit_s = time.perf_counter() - t0
            busy = []
            while len(busy) < args.probes:
                busy.append(latency_round(http, ids[len(busy) % len(ids)]))
                time.sleep(0.02)
            statuses = {}
            while True:
                statuses = {v: client.videos.retrieve(v).status for v in ids}
                if all(s in ("completed", "failed") for s in statuses.values()):
                    break
                busy.append(latency_round(http, ids[0]))
                time.sleep(0.25)
            queue_s = time.perf_counter() - t0

            frames_wanted = round(args.seconds * 24)
            exact, failed = 0, [v for v, s in statuses.items() if s != "completed"]
            for v in ids:
                if statuses[v] != "completed":
                    continue
                path = home / f"{v}.mp4"
                client.videos.download_content(v).write_to_file(path)
                exact += probe(path).frames == frames_wanted
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    idle_s, busy_s = summary(idle), summary(busy)
    report = {
        "requests": args.requests, "seconds_each": args.seconds, "workers": args.workers,
        "submit_all_s": round(submit_s, 2), "queue_drained_s": round(queue_s, 2),
        "videos_per_minute": round(args.requests / queue_s * 60, 1),
        "exact_to_the_frame": f"{exact}/{args.requests}", "failed": failed,
        "latency_idle": idle_s, "latency_while_rendering": busy_s,
        "p99_ratio_busy_over_idle": {k: round(busy_s[k]["p99_ms"] / max(idle_s[k]["p99_ms"], 1e-6), 2) for k in idle_s},
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
    }
    print(json.dumps(report, indent=2))
    return 0 if exact == args.requests and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
