"""A small read-only HTTP server for one replay bundle (``fleetsim view``).

It serves the files of one folder (a run's ``replay/`` bundle, which holds the
viewer too) and nothing else: GET and HEAD only, no directory listings, no
hidden files, and any path that would leave the folder (``..``, encoded or not,
backslashes, NUL, symlinks pointing out) is refused with 403.
"""

from __future__ import annotations

import errno
import os
import socket
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

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by design
        pass

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
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ReplayServer:
    """Serve ``root`` read-only on ``host:port`` (port 0: any free port)."""

    def __init__(self, root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "index.html").is_file():
            raise RunDirError(f"{self.root}: no viewer (index.html) in this replay bundle; "
                              "rebuild it with 'fleetsim replay RUN_DIR'")
        handler = type("Handler", (_Handler,), {"root": self.root})
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


def open_server(root: Path, host: str, port: int | None) -> ReplayServer:
    """A server on ``port``, or on :data:`DEFAULT_PORT` (any free port if it is taken)."""
    if port is not None:
        return ReplayServer(root, host, port)
    try:
        return ReplayServer(root, host, DEFAULT_PORT)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        return ReplayServer(root, host, 0)
