"""One skeleton for the background loops of a worker's main process.

The node heartbeat (``worker.fleet.NodeKeeper``) and the housekeeping sweeps
(``worker.housekeeping.HousekeepingLoop``) each used to carry their own copy of it; they
need the same four guarantees, so they now share this one:

- a **daemon** thread, so a loop can never hold up the worker's exit;
- a **stop event** rather than ``sleep``, so a warm shutdown ends the loop at once instead
  of a whole interval later, and ``stop()`` joins it with a bound;
- **no pass can end the loop**: whatever one raises is logged and the next pass comes on
  time (these loops are what heals a job after an outage, so they must outlive one);
- **one log line per failure streak**, and one when it ends: a Redis outage of a minute
  would otherwise repeat the same warning every beat. Expected failures (``quiet``: an
  outage) are logged without a traceback; anything else is a bug and gets one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class PeriodicThread:
    """Calls ``tick`` every ``interval`` seconds on a daemon thread named ``name``, from
    ``start()`` until ``stop()``; ``at_once`` runs the first pass on start instead of one
    interval later. Not restartable: build a new one."""

    def __init__(self, name: str, interval: float, tick: Callable[[], object],
                 log: logging.Logger, *, at_once: bool = False,
                 quiet: tuple[type[Exception], ...] = ()) -> None:
        self.name = name
        self.interval = interval
        self.tick = tick
        self.log = log
        self.at_once = at_once
        self.quiet = quiet
        self.failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the loop (a pass under way finishes first, for at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_pass(self) -> None:
        """One guarded pass: ``tick``, with the failure-streak logging."""
        try:
            self.tick()
        except Exception as e:  # noqa: BLE001 - the loop must outlive any one failure
            if not self.failing:
                self.log.warning("%s: %s: %s (will keep trying)", self.name,
                                 e.__class__.__name__, e,
                                 exc_info=not isinstance(e, self.quiet))
            self.failing = True
        else:
            if self.failing:
                self.log.info("%s: recovered", self.name)
            self.failing = False

    def _run(self) -> None:
        if not self.at_once and self._stop.wait(self.interval):
            return
        while True:
            self.run_pass()
            if self._stop.wait(self.interval):
                return
