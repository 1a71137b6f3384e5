"""Port probing for the local stack."""

from __future__ import annotations

import socket

from streams.errors import EnvironmentProblem


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_bindable(host: str, port: int, what: str, variable: str) -> None:
    """Raise :class:`EnvironmentProblem` (one line, exit 1) when ``host:port`` cannot be bound:
    another process holds it. Checked before a server starts, so a port taken is said plainly
    rather than as a traceback from deep in the server's start-up."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no hold
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EnvironmentProblem(f"{what} cannot listen on {host}:{port}: {exc.strerror or exc} (another process "
                                     f"holds it?); stop it, or set {variable} to another port") from None
