#!/usr/bin/env python3
"""Config propagation driver for bench/propagation.sh: applies N changes one after another, each adding a new
host, and measures the time from the change to the first 200 for that host (polled with a fresh connection
every millisecond, at most TIMEOUT seconds per change).

  propagation.py oxigress MANIFEST_DIR BACKEND_PORT HTTP_PORT N        (change = a new Ingress file)
  propagation.py nginx CHANGES_DIR MASTER_PID BACKEND_PORT HTTP_PORT N (change = a new server block + SIGHUP)

Prints "p50_ms p99_ms max_ms timeouts".
"""
import http.client
import os
import signal
import subprocess
import sys
import time

TIMEOUT = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))


def status(port, host):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/", headers={"Host": host, "Connection": "close"})
        code = conn.getresponse().status
        conn.close()
        return code
    except OSError:
        return 0


def write_atomically(path, text):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    mode = sys.argv[1]
    if mode == "oxigress":
        directory, backend, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

        def apply(i):
            text = subprocess.run([sys.executable, os.path.join(HERE, "gen_manifests.py"), "ingress", str(i), str(backend)],
                                  check=True, capture_output=True, text=True).stdout
            start = time.perf_counter()
            write_atomically(os.path.join(directory, f"change-{i}.yaml"), text)
            return start
    else:
        directory, master, backend, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])

        def apply(i):
            text = (f"server {{ listen 127.0.0.1:{port}; server_name change-{i}.bench.local; "
                    "location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n")
            start = time.perf_counter()
            write_atomically(os.path.join(directory, f"change-{i}.conf"), text)
            os.kill(master, signal.SIGHUP)
            return start

    times, timeouts = [], 0
    for i in range(n):
        host = f"change-{i}.bench.local"
        if status(port, host) == 200:
            sys.exit(f"{host} already serves before the change")
        start = apply(i)
        while True:
            if status(port, host) == 200:
                times.append((time.perf_counter() - start) * 1000)
                break
            if time.perf_counter() - start > TIMEOUT:
                timeouts += 1
                break
            time.sleep(0.001)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] if times else float("nan")  # noqa: E731
    print(f"{pick(0.5):.1f} {pick(0.99):.1f} {max(times, default=float('nan')):.1f} {timeouts}")


if __name__ == "__main__":
    main()
