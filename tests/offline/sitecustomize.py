"""Network guard for the book's tests: no connection leaves this machine.

The tests put this folder on ``PYTHONPATH``, so every Python process they start (the book
build, Sphinx, every chapter's kernel) imports this module at start-up. It wraps the
socket calls that open a connection: a connection to anything but the loopback interface
or a Unix socket raises ``OSError`` and is written to the file named by
``PTHEORY_NETWORK_LOG``, so that a test can fail on an attempt even when the code that
made it swallowed the error. Kernels talk to the test runner over ZeroMQ on 127.0.0.1,
which stays allowed.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOG = os.environ.get("PTHEORY_NETWORK_LOG")


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like
        return True
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name: resolving it is already a network request
        return False


def _refuse(address: object) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"pid {os.getpid()}: connection to {address!r}\n")
    raise OSError(f"network access to {address!r} is blocked while the book is tested")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        _refuse(address)
    return _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        _refuse(address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
    if host not in (None, "localhost", "") and not _is_local((host, 0)):
        _refuse((host, args[0] if args else None))
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo
