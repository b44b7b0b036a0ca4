"""A real peer process for the connection tests: serves a few methods on an inherited socket.

usage: python peer.py FD
"""

import os
import sys
import threading
import time

from nuvom.ipc import Connection

connection = Connection.from_fd(int(sys.argv[1]), name="test process")
notes = []


def echo_after(value, seconds):
    time.sleep(seconds)
    return value


def fail(message):
    raise ValueError(message)


def call_back(method, value):
    return ["peer saw", connection.call(method, value, timeout=5)]


def notify_later(method, value, seconds):
    """Notify us `seconds` from now, from a thread of its own: a message we did not ask for."""
    threading.Timer(seconds, connection.notify, (method, value)).start()


def notify_many(method, count):
    for index in range(count):
        connection.notify(method, index)


def write_garbage():
    os.write(connection._transport.sock.fileno(), b"\xc1\xc1\xc1")
    return None


def answer_unknown_msgid():
    os.write(connection._transport.sock.fileno(), b"\x94\x01\xce\x00\xbc\x61\x4e\xc0\xc0")  # [1, 12345678, nil, nil]
    return None


connection.register("echo", lambda value: value)
connection.register("echo_after", echo_after)
connection.register("fail", fail)
def hang():
    notes.append("hanging")
    threading.Event().wait()


connection.register("hang", hang)
connection.register("call_back", call_back)
connection.register("note", notes.append)
connection.register("notify_later", notify_later)
connection.register("notify_many", notify_many)
connection.register("notes", lambda: list(notes))
connection.register("write_garbage", write_garbage)
connection.register("answer_unknown_msgid", answer_unknown_msgid)
connection.register("pid", os.getpid)
connection.register("threads", threading.active_count)
connection.register("returns_object", object)
connection.start()
connection.wait_closed()
