"""Runs acceptance cases through the corpus runner (run.py), retrying a case once when its gateway exited at
start-up, and showing that gateway's log.

Why the retry: run.py picks the gateway's three ports by binding port 0 and closing the socket, three times in
a row; the kernel hands out the same port twice about once in 4,000 cases (measured: 49 in 200,000), and then
the gateway rightly exits with "address in use" before serving. That is the runner's race, not an answer to
the case; a gateway that cannot start for a reason of its own fails the retry too, and its log is printed
either way. Used by scripts/acceptance and scripts/acceptance-per-request.
"""

import os
import re
import shutil
import subprocess
import sys

VERDICT = re.compile(r"^(PASS|PARTIAL|FAIL) (\S+?)(:.*)?$")
KEPT = re.compile(r"\[kept (\S+)\]")


def parse(stdout):
    """The runner's verdict per case name: name -> (passed, why, line)."""
    results = {}
    for line in stdout.splitlines():
        m = VERDICT.match(line)
        if m:
            results[m.group(2)] = (m.group(1) != "FAIL", (m.group(3) or "").lstrip(": "), line)
    return results


def run(acceptance, gateway_cmd, paths, request_timeout, ready_path="/healthz/ready"):
    """Runs run.py on `paths`; returns (results as parse() gives them, the runner's whole output)."""
    done = subprocess.run(
        [sys.executable, os.path.join(acceptance, "run.py"), "--ready-path", ready_path, "--keep",
         "--request-timeout", str(request_timeout), "--gateway-cmd", gateway_cmd, *paths],
        capture_output=True, text=True, check=False)
    return parse(done.stdout), done.stdout + done.stderr


def show_log(why, lines=40):
    """Prints the tail of the gateway log a failed case kept."""
    kept = KEPT.search(why)
    log = kept and os.path.join(kept.group(1), "gateway.log")
    if log and os.path.exists(log):
        with open(log, encoding="utf-8", errors="replace") as f:
            tail = re.sub(r"\x1b\[[0-9;]*m", "", "".join(f.readlines()[-lines:]))
        print(f"gateway.log (last {lines} lines):\n{tail}", flush=True)


def retry_startup_exits(results, rerun):
    """Re-runs (once) each case whose gateway exited at start-up; `rerun(name)` returns fresh results."""
    for name, (passed, why, _) in list(results.items()):
        if not passed and "gateway exited" in why:
            print(f"RETRY {name}: {why}", flush=True)
            show_log(why)
            clean_up({name: results[name]})
            results.update(rerun(name))


def clean_up(results):
    """Removes the temporary directories the runner kept for failed cases."""
    for _, why, _ in results.values():
        kept = KEPT.search(why)
        if kept:
            shutil.rmtree(kept.group(1), ignore_errors=True)
