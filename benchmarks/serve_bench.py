"""Benchmark `nkhandout serve` on 127.0.0.1 only.

1. requests per second on the cached preview route (/l/es/preview.png),
   from a second process with C connections (keep-alive), for at most
   --seconds seconds and --requests requests in all (bounded);
2. how long a cheap request takes while the worker renders: /app.css,
   requested again and again while uncached previews render;
3. from a catalog save (a msgstr changed on disk) to the server-sent event
   that tells the open page, --runs times (in a copy of the project).

It never fails on timing; it prints the numbers and exits 0.

    .venv/bin/python benchmarks/serve_bench.py [--seconds 5] [--connections 4] [--runs 5]
"""

import argparse
import http.client
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the load goes to this machine only


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start(folder, watch):
    project = folder / "project"
    shutil.copytree(ROOT / "content", project / "content")
    shutil.copytree(ROOT / "templates", project / "templates", ignore=shutil.ignore_patterns("fonts"))
    port = free_port()
    env = dict(os.environ, NKHANDOUT_FONTS=str(ROOT / "templates" / "fonts"))
    args = [sys.executable, "-m", "nkhandout", "--root", str(project), "serve", "--host", HOST,
            "--port", str(port), "--no-prerender", "--watch" if watch else "--no-watch"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/app.css", timeout=2).read()
            return process, port, project
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("serve did not start")
            time.sleep(0.1)


def get(connection, path):
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    return response.status, body


def _load(port, path, seconds, limit, results):
    """One client connection: GET ``path`` until the time or the count is up."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    done = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and done < limit:
        status, _body = get(connection, path)
        done += 1
        errors += status != 200
    connection.close()
    results.put((done, errors))


def load_process(port, path, seconds, connections, limit, out):
    """The second process: ``connections`` threads, bounded in time and count."""
    import queue

    results = queue.Queue()
    threads = [threading.Thread(target=_load, args=(port, path, seconds, limit // connections, results))
               for _ in range(connections)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    done = errors = 0
    while not results.empty():
        d, e = results.get()
        done += d
        errors += e
    out.put((done, errors, elapsed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        process, port, project = start(Path(temp), watch=True)
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
            path = "/l/es/preview.png?paper=a4"
            start_time = time.monotonic()
            status, body = get(connection, path)
            print(f"first preview (render): {time.monotonic() - start_time:.2f} s, {len(body)} bytes, {status}")

            out = multiprocessing.get_context("spawn").Queue()
            loader = multiprocessing.get_context("spawn").Process(
                target=load_process, args=(port, path, options.seconds, options.connections, options.requests, out))
            loader.start()
            done, errors, elapsed = out.get(timeout=options.seconds + 60)
            loader.join(10)
            print(f"cached preview: {done} requests in {elapsed:.1f} s from {options.connections} connections: "
                  f"{done / elapsed:.0f} requests/s, {errors} errors")

            # responsiveness while rendering (a new connection: the first one idled past keep-alive)
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
            latencies = []
            stop = threading.Event()

            def renders():
                other = http.client.HTTPConnection(HOST, port, timeout=60)
                for code in ("de", "fr", "ru", "vi", "ko", "ar"):
                    get(other, f"/l/{code}/preview.png?paper=letter")
                other.close()
                stop.set()

            thread = threading.Thread(target=renders)
            started = time.monotonic()
            thread.start()
            while not stop.is_set():
                begin = time.monotonic()
                get(connection, "/app.css")
                latencies.append(time.monotonic() - begin)
            thread.join()
            rendered = time.monotonic() - started
            latencies.sort()
            print(f"while 6 previews rendered ({rendered:.1f} s): {len(latencies)} other requests, "
                  f"median {statistics.median(latencies) * 1000:.1f} ms, "
                  f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")

            # save -> event
            po = project / "content" / "locales" / "es.po"
            original = po.read_text("utf-8")
            old = 'msgstr "Células NK y abortos espontáneos repetidos"'
            events = http.client.HTTPConnection(HOST, port, timeout=30)
            events.request("GET", "/l/es/events?paper=a4")
            stream = events.getresponse()
            stream.read1(100)  # retry: line
            times = []
            for run in range(options.runs):
                time.sleep(0.3)
                begin = time.monotonic()
                po.write_text(original.replace(old, f'msgstr "Células NK {run}"'), "utf-8")
                buffer = b""
                while b"event: update" not in buffer or not buffer.endswith(b"\n\n"):
                    buffer += stream.read1(65536)
                times.append(time.monotonic() - begin)
            events.close()
            print(f"catalog save -> update event (re-rendered), {len(times)} saves: median "
                  f"{statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
            connection.close()
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
