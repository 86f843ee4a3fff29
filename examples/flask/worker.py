"""A background worker beside the web process: `paas scale worker=1`."""

import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
dyno = os.environ.get("DYNO", "worker")
n = 0
while True:
    n += 1
    print(f"{dyno}: tick {n}", flush=True)
    time.sleep(2)
