"""HTTP benchmark plumbing: start a server from ``api.server.server_argv`` and drive it with wrk.

wrk (``apt-get install -y wrk``) rather than a Python load generator: a Python client on the
same two cores would measure itself. Latency percentiles come from wrk's ``--latency``
distribution, which records every request (HdrHistogram), not a sample.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from _stack import BENCH, ROOT

from api.server import ServerKind, server_argv
from jobgrid.procs import child_pids, free_port, group_pids, http_ok, spawn, stop_groups, tail

_CLK_TCK = os.sysconf("SC_CLK_TCK")

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(r"Socket errors:(.*)$", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)


class WrkMissing(RuntimeError):
    """Raised when the wrk binary is not installed."""


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: on Debian/Ubuntu run `apt-get install -y wrk` "
                         "(macOS: `brew install wrk`), then run this benchmark again")
    return path


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and anything that went wrong;
    ``cpu_us``: CPU time the server's processes spent per request (None if not measured),
    which a busy shared machine distorts much less than throughput."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: str
    cpu_us: float | None = None

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 3),
                "p99_ms": round(self.p99_ms, 3), "requests": self.requests,
                "non_2xx_3xx": self.non_2xx_3xx, "socket_errors": self.socket_errors,
                "server_cpu_us_per_request": None if self.cpu_us is None
                else round(self.cpu_us, 1)}


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (a server and its workers)."""
    ticks = 0
    for pid in group_pids(pgid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / _CLK_TCK


def parse_wrk(out: str) -> WrkResult:
    lat = {int(p): float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(out)}
    rps, total = _RPS.search(out), _TOTAL.search(out)
    if rps is None or total is None or 50 not in lat or 99 not in lat:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    non2, errs = _NON_2XX.search(out), _ERRORS.search(out)
    return WrkResult(float(rps.group(1)), lat[50], lat[99], int(total.group(1)),
                     int(non2.group(1)) if non2 else 0, errs.group(1).strip() if errs else "")


def wrk(url: str, *, seconds: float, connections: int = 32, threads: int = 2,
        headers: Mapping[str, str] | None = None, pgid: int | None = None) -> WrkResult:
    """Runs wrk against ``url`` for ``seconds`` with keep-alive connections; with ``pgid``
    (the server's process group) also the server CPU per request."""
    argv = [require_wrk(), "-t", str(threads), "-c", str(connections),
            "-d", f"{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    cpu0 = group_cpu_seconds(pgid) if pgid is not None else 0.0
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=True,
                          timeout=seconds + 60)
    result = parse_wrk(done.stdout)
    if pgid is None or not result.requests:
        return result
    cpu = (group_cpu_seconds(pgid) - cpu0) / result.requests * 1e6
    return replace(result, cpu_us=cpu)


@dataclass
class Server:
    """A running server: its URL and the PIDs of its worker processes."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """gunicorn's (or granian's) worker processes: the children of the master."""
        return child_pids(self.proc.pid)


def bench_env(base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(ROOT)])
    return env


@contextmanager
def serve(env: Mapping[str, str], *, kind: ServerKind, workers: int = 2,
          app: str = "api.wsgi:app", access_log: bool = False,
          log: Path | None = None) -> Iterator[Server]:
    """Starts ``server_argv(...)`` on a free port and waits until it answers ``/healthz``."""
    port = free_port()
    log = log or BENCH / "results" / "polling-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = server_argv("127.0.0.1", port, workers, kind=kind, app=app, access_log=access_log)
    proc = spawn(argv, env=bench_env(env), cwd=ROOT, log_path=log)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_healthy(server, "/healthz" if app == "api.wsgi:app" else "/const", workers)
        yield server
    finally:
        stop_groups([proc], timeout=10)


def _wait_healthy(server: Server, path: str, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not http_ok(server.url + path, timeout=1):
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {server.url}\n{tail(server.log, 40)}")
        time.sleep(0.1)
    while len(server.worker_pids()) < workers and time.monotonic() < deadline:
        time.sleep(0.1)  # every worker forked, so none starts up during a measurement


def rss_mib(pid: int) -> float:
    """Resident memory of one process (``VmRSS``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def warm(url: str, headers: Mapping[str, str] | None, seconds: float) -> None:
    if seconds > 0:
        wrk(url, seconds=seconds, headers=headers)


def run_row(url: str, *, seconds: float, warmup: float,
            headers: Sequence[tuple[str, str]] = ()) -> WrkResult:
    """A short warm-up (imports, connection pools, script cache), then the measured run."""
    hdrs = dict(headers)
    warm(url, hdrs, warmup)
    return wrk(url, seconds=seconds, headers=hdrs)


#: url, headers, and the process group of the server behind it (for the CPU column)
Target = tuple[str, Sequence[tuple[str, str]], int | None]


def combine(slices: Sequence[WrkResult]) -> WrkResult:
    """Slices of one row: req/s over their summed duration, the median slice's p50 and p99."""
    total = sum(r.requests for r in slices)
    duration = sum(r.requests / r.rps for r in slices if r.rps)

    def mid(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    cpus = [r.cpu_us for r in slices if r.cpu_us is not None]
    return WrkResult(total / duration if duration else 0.0, mid([r.p50_ms for r in slices]),
                     mid([r.p99_ms for r in slices]), total,
                     sum(r.non_2xx_3xx for r in slices),
                     "; ".join(r.socket_errors for r in slices if r.socket_errors),
                     mid(cpus) if cpus else None)


def interleave(targets: Mapping[str, Target], *, seconds: float, warmup: float,
               rounds: int) -> dict[str, WrkResult]:
    """Runs every row in ``rounds`` slices, round-robin, so background load that comes and
    goes on a shared machine hits every row alike and the ratios between rows hold."""
    for url, headers, _ in targets.values():
        warm(url, dict(headers), warmup)
    per = max(1.0, round(seconds / rounds))
    slices: dict[str, list[WrkResult]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, headers, pgid) in targets.items():
            slices[name].append(wrk(url, seconds=per, headers=dict(headers), pgid=pgid))
    return {name: combine(s) for name, s in slices.items()}
