"""An http.server handler served from a thread of the test process at 127.0.0.1, for the
small stand-ins (a hung site, a bad gateway, a slow image server) a test needs."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator

Handler = Callable[..., http.server.BaseHTTPRequestHandler]


@contextlib.contextmanager
def serve(handler: Handler, port: int = 0) -> Iterator[str]:
    """Serve handler at 127.0.0.1:port (0: a free one) and yield its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    # A handler that sleeps (a hung site) must not hold shutdown.
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
