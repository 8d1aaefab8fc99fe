"""A free TCP port on loopback, the one way our own servers (PostgreSQL clusters, test Jupyter and hub
servers, benches) pick where to listen: the kernel's pick, so runs side by side never collide."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
