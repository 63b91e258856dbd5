"""Opening a server's listening socket before anything starts, so a busy port or a
bad address is one line naming the option to change, not a traceback."""

from __future__ import annotations

import errno
import socket


class ListenError(Exception):
    """The socket cannot be opened; the message names the address and the options."""


def listening_socket(host: str, port: int, *, host_option: str,
                     port_option: str) -> socket.socket:
    """A bound, listening TCP socket on host:port, whose values come from the
    options named (e.g. "[api] host_ip" and "[api] port")."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise ListenError(f"cannot listen on {where}: {_reason(exc)}; check "
                          f"{host_option}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            hint = f"another process listens there; stop it or set another {port_option}"
        else:
            hint = f"check {host_option} and {port_option}"
        raise ListenError(f"cannot listen on {where}: {_reason(exc)}; {hint}") from None
    sock.set_inheritable(True)
    return sock


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text[:1].lower() + text[1:] if text else exc.__class__.__name__
