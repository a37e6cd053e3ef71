"""``worker.loops.PeriodicThread``, the skeleton of the heartbeat and housekeeping loops:
a pass that raises never ends the loop, a failure streak is logged once (a traceback only
for what is not an expected outage), ``stop()`` ends the loop without waiting an interval."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import redis

from worker.loops import PeriodicThread

log = logging.getLogger("jobgrid.test.loops")


def _until(cond: threading.Event, timeout: float = 5.0) -> None:
    assert cond.wait(timeout), "the loop did not get there"


def test_a_failing_pass_is_logged_once_per_streak_and_the_loop_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    outcomes = [RuntimeError("bug"), RuntimeError("bug"), None, redis.ConnectionError("down"),
                redis.ConnectionError("down"), None]
    done = threading.Event()

    def tick() -> None:
        if not outcomes:
            done.set()
            return
        e = outcomes.pop(0)
        if e is not None:
            raise e

    loop = PeriodicThread("jobgrid-test", 0.005, tick, log, quiet=(redis.RedisError,))
    with caplog.at_level(logging.INFO, logger=log.name):
        loop.start()
        try:
            _until(done)
        finally:
            loop.stop()
    lines = [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records]
    assert lines == [
        ("WARNING", "jobgrid-test: RuntimeError: bug (will keep trying)", True),  # a bug
        ("INFO", "jobgrid-test: recovered", False),
        ("WARNING", "jobgrid-test: ConnectionError: down (will keep trying)", False),  # outage
        ("INFO", "jobgrid-test: recovered", False),
    ]


def test_at_once_runs_the_first_pass_on_start_and_stop_does_not_wait_an_interval() -> None:
    ran = threading.Event()
    loop = PeriodicThread("jobgrid-test", 60.0, ran.set, log, at_once=True)
    loop.start()
    _until(ran)
    t0 = time.monotonic()
    loop.stop()
    assert time.monotonic() - t0 < 1  # the 60 s wait is cut short


def test_without_at_once_the_first_pass_comes_one_interval_after_start() -> None:
    ran = threading.Event()
    loop = PeriodicThread("jobgrid-test", 60.0, ran.set, log)
    loop.start()
    assert not ran.wait(0.1)
    loop.stop()
    assert not ran.is_set()  # stopped during its first wait: never ran
    assert loop._thread is not None and not loop._thread.is_alive()
    assert loop._thread.daemon and loop._thread.name == "jobgrid-test"
