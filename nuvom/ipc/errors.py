"""Every way a call over the channel can fail, as one exception family."""

from __future__ import annotations


class IpcError(Exception):
    """Base of every error raised by `nuvom.ipc`."""


class EncodeError(IpcError, TypeError):
    """A value cannot be sent: the message names the method and the value's type."""


class ChannelClosed(IpcError):
    """The channel is closed (peer gone, closed locally, or broken); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProtocolViolation(ChannelClosed):
    """The peer sent something that is not a valid message: the channel was closed for it."""


class CallTimeout(IpcError, TimeoutError):
    """No response within the call's timeout (the channel stays open)."""

    def __init__(self, method: str, timeout: float, peer: str) -> None:
        super().__init__(f"call {method!r} to {peer} got no response within {timeout:g} s")
        self.method = method
        self.timeout = timeout


class RemoteError(IpcError):
    """The peer's handler raised; carries the peer's exception type, message and traceback."""

    def __init__(self, method: str, peer: str, remote_type: str, remote_message: str, remote_traceback: str) -> None:
        self.method = method
        self.peer = peer
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        summary = f"{remote_type}: {remote_message}" if remote_message else remote_type
        super().__init__(f"call {method!r} failed in {peer}: {summary}")

    def __str__(self) -> str:
        text = super().__str__()
        if self.remote_traceback:
            text += "\n--- traceback in " + self.peer + " ---\n" + self.remote_traceback.rstrip()
        return text
