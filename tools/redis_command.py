"""One command to a Redis, over a socket of its own, for the tests and the benchmarks: what they
ask Redis directly (PING, FLUSHDB, DBSIZE, KEYS, INFO) besides what the gateway does.

    redis_command(("127.0.0.1", 6379), b"DBSIZE")  ->  b":12\\r\\n"

The answer is Redis's whole reply as it sent it (RESP), read to its end rather than for a
while: no sleep, and nothing cut off at a buffer's size.
"""

from __future__ import annotations

import socket
import urllib.parse
from typing import BinaryIO


def address_of(url: str) -> tuple[str, int]:
    """The host and port of a `redis://host:port/db` URL (6379 when it names none)."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def redis_command(address: tuple[str, int], command: bytes, timeout: float = 10.0) -> bytes:
    """Send one inline command (with or without its line's end) and return the reply."""
    with socket.create_connection(address, timeout=timeout) as sock, \
            sock.makefile("rb") as answer:
        sock.sendall(command.rstrip(b"\r\n") + b"\r\n")
        return _reply(answer)


def _reply(answer: BinaryIO) -> bytes:
    line = answer.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("Redis closed the connection before it answered")
    kind, size = line[:1], line[1:-2]
    if kind == b"$" and int(size) >= 0:  # a bulk string: its bytes and their line's end
        return line + answer.read(int(size) + 2)
    if kind == b"*" and int(size) > 0:  # an array: its items, each a reply
        return line + b"".join(_reply(answer) for _ in range(int(size)))
    return line  # a status, an error, an integer, a null
