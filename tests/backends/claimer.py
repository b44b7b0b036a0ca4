"""Subprocess helper: claim jobs from a SQLite queue and print each claimed id.

usage: python claimer.py QUEUE_PATH LEASE_SECS MODE [GO_FILE]
  MODE=drain  print "ready", wait until GO_FILE exists (so every claimer starts together),
              then claim, "work" 1 ms, and ack until the queue stays empty for 0.5 s
  MODE=hold   claim one job, print its id, then block forever (the test SIGKILLs us)
"""

import os
import sys
import threading
import time

from nuvom.queue_backends.sqlite import SQLiteJobQueue

path, lease, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
queue = SQLiteJobQueue(path, lease_secs=lease)
if mode == "hold":
    job = queue.dequeue(timeout=10)
    print(job.id if job else "none", flush=True)
    threading.Event().wait()
print("ready", flush=True)
deadline = time.monotonic() + 30
while not os.path.exists(sys.argv[4]) and time.monotonic() < deadline:
    time.sleep(0.005)
while True:
    batch = queue.pop_batch(4, timeout=0.5)
    if not batch:
        break
    for job in batch:
        print(job.id, flush=True)
    time.sleep(0.001)  # the work a real worker would do between claims
    queue.ack(batch)
