"""Subprocess helper: claim jobs from a SQLite queue and print each claimed id.

usage: python claimer.py QUEUE_PATH LEASE_SECS MODE
  MODE=drain  claim and ack until the queue stays empty for 0.5 s
  MODE=hold   claim one job, print its id, then block forever (the test SIGKILLs us)
"""

import sys
import threading

from nuvom.queue_backends.sqlite import SQLiteJobQueue

path, lease, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
queue = SQLiteJobQueue(path, lease_secs=lease)
if mode == "hold":
    job = queue.dequeue(timeout=10)
    print(job.id if job else "none", flush=True)
    threading.Event().wait()
while True:
    batch = queue.pop_batch(4, timeout=0.5)
    if not batch:
        break
    for job in batch:
        print(job.id, flush=True)
    queue.ack(batch)
