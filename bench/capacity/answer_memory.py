"""Peak memory and wall time of reading one large Prometheus range answer, whole or in time slices.

`python bench/capacity/answer_memory.py [--claims 2000] [--days 28] [--slices 1 2 4 8]`

A local HTTP server (this process) answers /api/v1/query_range like Prometheus would for `--claims` kubelet claims at
15-minute steps, for whatever span it is asked: the answer is written as it is generated, so the server holds none of
it. For each slice count a fresh child process reads the lookback through `PrometheusSource.query_range` (the
exporter's own HTTP and parsing path), one request per slice, joined as the exporter joins the halves of a query
Prometheus refused as too large; it reports its peak RSS over its RSS just before the read (imports excluded), the
wall time, the requests and the bytes received. The numbers decide whether reading in slices is worth its extra
requests; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STEP = 900
END = 1_717_200_000  # a multiple of the step


def answer_chunks(claims: int, start: int, end: int) -> Iterator[bytes]:
    """The JSON of a matrix answer, piece by piece: ``claims`` series, one point per step in [start, end]."""
    stamps = range(start, end + 1, STEP)
    yield b'{"status":"success","data":{"resultType":"matrix","result":['
    for i in range(claims):
        head = json.dumps({"namespace": f"ns-{i % 97}", "persistentvolumeclaim": f"claim-{i}"})
        used = 10_000_000_000 + i * 1_000_003
        points = ",".join(f'[{t},"{used + (t - start) * 7}"]' for t in stamps)
        yield f'{"," if i else ""}{{"metric":{head},"values":[{points}]}}'.encode()
    yield b"]}}"


def serve(claims: int) -> tuple[ThreadingHTTPServer, list[int]]:
    """The fake Prometheus on 127.0.0.1, and the byte count of each answer it sent."""
    sent: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            start, end = round(float(form["start"])), round(float(form["end"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            total = 0
            for piece in answer_chunks(claims, start, end):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                total += len(piece)
            self.wfile.write(b"0\r\n\r\n")
            sent.append(total)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, sent


CHILD = """
import sys, time
from dizuo.capacity.prometheus_source import PrometheusSource, joined_in_time
url, slices, days, step, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def rss_kib():
    with open("/proc/self/status") as status:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in status) if k in ("VmRSS", "VmHWM")}
source = PrometheusSource(url, clock=lambda: end)
start = end - days * 86400
steps = (end - start) // step
bounds = [start + steps * k // slices * step for k in range(slices)] + [end + step]
before = rss_kib()["VmRSS"]
began = time.perf_counter()
series = []
for lo, hi in zip(bounds, bounds[1:]):
    series = joined_in_time(series, source.query_range("used", lo, hi - step, step))
seconds = time.perf_counter() - began
points = sum(s.timestamps.size for s in series)
print(rss_kib()["VmHWM"] - before, seconds, len(series), points)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--slices", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    server, sent = serve(args.claims)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"{args.claims} claims x {args.days} days at {STEP} s ({args.days * 86400 // STEP + 1} points each)")
    print("| slices | requests | MiB received | peak MiB over start | seconds | series | points |")
    print("|-------:|---------:|-------------:|--------------------:|--------:|-------:|-------:|")
    for slices in args.slices:
        sent.clear()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, str(slices), str(args.days), str(STEP), str(END)],
            capture_output=True,
            text=True,
            check=True,
        )
        peak_kib, seconds, count, points = done.stdout.split()
        print(
            f"| {slices} | {len(sent)} | {sum(sent) / 2**20:.0f} | {int(peak_kib) / 1024:.0f} | {float(seconds):.1f} |"
            f" {count} | {points} |"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
