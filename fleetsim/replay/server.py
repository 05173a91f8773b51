"""A small read-only HTTP server for one replay bundle (``fleetsim view``).

It serves the files of one folder (a run's ``replay/`` bundle, which holds the
viewer too) and nothing else: GET and HEAD only, no directory listings, no
hidden files, and any path that would leave the folder (``..``, encoded or not,
backslashes, NUL, symlinks pointing out) is refused with 403.

It also keeps to itself on the network side:

- an idle connection is closed after :data:`IDLE_TIMEOUT_S` (no thread is held by
  a client that connects and says nothing);
- the ``Host`` header must name this server: ``localhost``, an IP address, or the
  ``--host`` name. A page on another site whose name was re-pointed at this
  machine (DNS rebinding) sends its own name and is refused with 421;
- a request with a body (any refused method, or a GET with ``Content-Length``)
  is answered and the connection closed, so the body is never read as a next
  request on a kept-alive connection;
- a browser dropping a connection is not an error (no traceback).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fleetsim.errors import RunDirError

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".json": "application/json",
    ".png": "image/png", ".bin": "application/octet-stream",
    ".md": "text/markdown; charset=utf-8",
}
#: Everything the viewer loads comes from this server; the policy makes the browser
#: refuse anything else too.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")
DEFAULT_PORT = 8765
#: Ports tried after :data:`DEFAULT_PORT` when it is taken, before any free port.
PORT_TRIES = 20
#: Seconds a connection may stay silent (between or within requests) before it is closed.
IDLE_TIMEOUT_S = 30.0
#: Errors that only mean the other end went away.
_DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


def host_allowed(host_header: str, names: frozenset[str]) -> bool:
    """Whether a ``Host`` header value names this server.

    Allowed: an IP literal (IPv4, or IPv6 in brackets), ``localhost``, or one of
    ``names`` (the ``--host`` value), each with an optional port. An IP literal is
    safe: DNS rebinding needs a name the attacker controls, and a page whose origin
    is an IP address is that address's own. The port is not compared: it is no part
    of that defence, and a tunnel (``ssh -L 9000:localhost:8765``) changes it.
    """
    value = host_header.strip().lower()
    if not value or any(c in value for c in " /\\@?#"):
        return False
    if value.startswith("["):  # [v6] or [v6]:port
        end = value.find("]")
        if end < 0:
            return False
        name, rest = value[1:end], value[end + 1:]
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return False
        is_ip = True
    else:
        name, sep, port = value.partition(":")
        rest = sep + port
        try:
            ipaddress.IPv4Address(name)
            is_ip = True
        except ValueError:
            is_ip = False
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and int(rest[1:]) <= 65535):
        return False
    return is_ip or name in ("localhost", "localhost.") or name in names


class Refused(Exception):
    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


def resolve_request_path(root: Path, target: str) -> Path:
    """The file under ``root`` (resolved) that request target ``target`` names.

    Raises :class:`Refused` with 403 for anything that tries to leave ``root`` and
    404 for what is not a servable file.
    """
    if not target.startswith("/"):
        raise Refused(HTTPStatus.FORBIDDEN)  # absolute-form (http://host/...) or other odd targets
    path = urlsplit(target).path
    decoded = unquote(path, errors="strict") if "%" in path else path
    if "\x00" in decoded or "\\" in decoded:
        raise Refused(HTTPStatus.FORBIDDEN)
    parts = [p for p in decoded.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise Refused(HTTPStatus.FORBIDDEN)
    if any(p.startswith(".") or ":" in p for p in parts):
        raise Refused(HTTPStatus.NOT_FOUND)
    candidate = root.joinpath(*parts) if parts else root
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise Refused(HTTPStatus.NOT_FOUND) from None
    if real != root and root not in real.parents:
        raise Refused(HTTPStatus.FORBIDDEN)  # a symlink pointing out of the bundle
    if real.is_dir():
        real = real / "index.html"
        if not real.is_file():
            raise Refused(HTTPStatus.NOT_FOUND)
    if not real.is_file():
        raise Refused(HTTPStatus.NOT_FOUND)
    return real


class _Handler(BaseHTTPRequestHandler):
    server_version = "fleetsim-view"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    root: Path  # set on the subclass made per server
    host_names: frozenset[str] = frozenset()  # the --host name, lower case
    timeout = IDLE_TIMEOUT_S  # socket timeout (StreamRequestHandler.setup applies it)
    _must_close = False

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by design
        pass

    def end_headers(self) -> None:
        if self._must_close:
            self.send_header("Connection", "close")  # also sets close_connection
        super().end_headers()

    def handle_expect_100(self) -> bool:
        self._must_close = True  # nothing here takes a body
        self.send_response_only(HTTPStatus.EXPECTATION_FAILED)
        self.end_headers()
        return False

    def parse_request(self) -> bool:
        self._must_close = False
        if not super().parse_request():
            return False
        headers = self.headers
        length = headers.get("Content-Length", "0").strip()
        if headers.get("Transfer-Encoding") is not None or length != "0":
            # A body, or a length that cannot be trusted: answer, then close rather
            # than read the body as the next request.
            self._must_close = True
        host = headers.get_all("Host") or []
        if len(host) > 1 or (not host and self.request_version != "HTTP/1.0"):
            self._must_close = True
            self._send_error(HTTPStatus.BAD_REQUEST)
            return False
        if host and not host_allowed(host[0], self.host_names):
            self._must_close = True
            self._send_error(HTTPStatus.MISDIRECTED_REQUEST)
            return False
        return True

    def _send_error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self) -> None:
        try:
            path = resolve_request_path(self.root, self.path)
        except Refused as exc:
            self._send_error(exc.status)
            return
        except UnicodeDecodeError:
            self._send_error(HTTPStatus.BAD_REQUEST)
            return
        try:
            data = path.read_bytes()
        except OSError:
            self._send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix.lower(),
                                                           "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve()

    def _refuse(self) -> None:
        self._must_close = True  # its body (if any) is never read
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], _DROPPED):
            return  # the browser went away (a closed tab, a cancelled fetch)
        super().handle_error(request, client_address)


class ReplayServer:
    """Serve ``root`` read-only on ``host:port`` (port 0: any free port).

    ``idle_timeout_s`` closes connections silent for that long.
    """

    def __init__(self, root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0, *,
                 idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "index.html").is_file():
            raise RunDirError(f"{self.root}: no viewer (index.html) in this replay bundle; "
                              "rebuild it with 'fleetsim replay RUN_DIR'")
        names = {host.lower().strip("[]")}
        if host in ("", "0.0.0.0", "::"):  # every interface: the machine's name too
            names.add(socket.gethostname().lower())
        names = frozenset(names)
        handler = type("Handler", (_Handler,), {"root": self.root, "host_names": names,
                                                "timeout": idle_timeout_s})
        server_cls = _Server
        if ":" in host:
            server_cls = type("Server6", (_Server,), {"address_family": socket.AF_INET6})
        self.httpd = server_cls((host, port), handler)
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ReplayServer:
        """Serve from a background thread (for tests and benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="fleetsim-view",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bundle_dir(run_dir: str | os.PathLike) -> Path:
    """The replay bundle of a run directory (or the bundle folder itself)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    for cand in (path / "replay", path):
        if (cand / "manifest.json").is_file() and (cand / "index.html").is_file():
            from fleetsim.replay.reader import read_replay

            read_replay(cand)  # checks the format and version
            return cand
    raise RunDirError(f"{run_dir}: no replay bundle (no replay/manifest.json); write one "
                      f"with 'fleetsim replay {run_dir}'")


def open_server(root: Path, host: str, port: int | None, *,
                default_port: int = DEFAULT_PORT) -> ReplayServer:
    """A server on ``port``; without one, on ``default_port`` or, if it is taken, the
    next free port among the :data:`PORT_TRIES` after it, else any free port."""
    if port is not None:
        return ReplayServer(root, host, port)
    for candidate in range(default_port, min(default_port + PORT_TRIES + 1, 65536)):
        try:
            return ReplayServer(root, host, candidate)
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    return ReplayServer(root, host, 0)
