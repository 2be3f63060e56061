"""What every benchmark's command line shares: argument types, logging, a time limit."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

log = logging.getLogger("bench")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def configure_logging() -> None:
    """INFO lines with times; the libraries' own only from WARNING up (one line per request
    would cost time in the very threads being measured)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"
    )
    for name in ("werkzeug", "temporalio", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def stop_by_itself(seconds: int) -> Iterator[None]:
    """SIGTERM or the time limit end the run through the normal clean-up path, once."""
    stopping = threading.Event()

    def stop(signum, frame):
        if stopping.is_set():  # already unwinding: let the clean-up finish
            log.warning("%s again while stopping; still stopping", signal.Signals(signum).name)
            return
        stopping.set()
        raise SystemExit(f"stopped by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGALRM)}
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
