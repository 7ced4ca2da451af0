"""A local stand-in for the Hugging Face Hub, for the ``data download`` tests (no tests here).

It serves dataset repositories over HTTP on 127.0.0.1 with the part of the Hub's
protocol that ``huggingface_hub`` uses to download files (read from its 2.x source):

* ``GET /api/datasets/{repo}/revision/{rev}``: the repository's info, with the commit
  (``sha``) the revision resolves to and its files (``siblings``);
* ``GET /api/datasets/{repo}/tree/{rev}[/{path}]``: the files and folders below a path
  (``snapshot_download``, the ``hf download`` command);
* ``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``: a file, with ``X-Repo-Commit``,
  ``ETag``, ``Content-Length`` and ``Accept-Ranges``; a ``Range: bytes=N-`` request gets
  ``206`` and ``Content-Range``;
* errors carry the ``X-Error-Code`` header the client maps to its exception types.

Every request is recorded (method, path, ``Range``, ``Authorization``, bytes of body
sent), so tests can count what was fetched. Faults: ``drop_once`` (the first ``GET`` of
a file sends part of it and closes the connection) and ``slow_once`` (the first ``GET``
sends the file slowly, so a test can kill the client half way).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

__all__ = ["HubRepo", "HubRequest", "HubStandIn"]


@dataclass
class HubRepo:
    """One dataset repository at one commit, on branch ``main``."""

    repo_id: str
    files: dict[str, bytes]
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1()
            for name in sorted(self.files):
                digest.update(name.encode() + b"\0" + self.files[name])
            self.commit = digest.hexdigest()


@dataclass
class HubRequest:
    """One request the stand-in received."""

    method: str
    path: str
    range: str | None
    authorization: str | None
    status: int = 0
    sent: int = 0
    """Bytes of body sent."""

    @property
    def file(self) -> str | None:
        """The repository path of a ``resolve`` request, else None."""
        parts = self.path.split("/")
        if len(parts) > 6 and parts[1] == "datasets" and parts[4] == "resolve":
            return "/".join(parts[6:])
        return None


@dataclass
class _State:
    repos: dict[str, HubRepo]
    requests: list[HubRequest] = field(default_factory=list)
    drop_once: set[str] = field(default_factory=set)
    slow_once: set[str] = field(default_factory=set)
    slow_chunk: int = 8192
    slow_pause: float = 0.02
    lock: threading.Lock = field(default_factory=threading.Lock)


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _record(self) -> HubRequest:
        request = HubRequest(
            self.command,
            unquote(urlsplit(self.path).path),
            self.headers.get("Range"),
            self.headers.get("Authorization"),
        )
        with self.state.lock:
            self.state.requests.append(request)
        return request

    def _error(self, request: HubRequest, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        request.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _repo(self, parts: list[str]) -> tuple[HubRepo | None, list[str]]:
        if len(parts) < 2:
            return None, []
        return self.state.repos.get(f"{parts[0]}/{parts[1]}"), parts[2:]

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        request = self._record()
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["api", "datasets"] and self.command == "GET":
            repo, rest = self._repo(parts[2:])
            if repo is None:
                return self._error(request, 404, "RepoNotFound", "Repository not found")
            if rest[:1] == ["revision"] and len(rest) == 2:
                return self._info(request, repo, rest[1])
            if rest[:1] == ["tree"] and len(rest) >= 2:
                return self._tree(request, repo, rest[1], "/".join(rest[2:]))
            return self._error(request, 404, "RepoNotFound", "unknown endpoint")
        if parts[:1] == ["datasets"]:
            repo, rest = self._repo(parts[1:])
            if repo is None:
                return self._error(request, 404, "RepoNotFound", "Repository not found")
            if rest[:1] == ["resolve"] and len(rest) >= 3:
                return self._file(request, repo, rest[1], "/".join(rest[2:]))
        return self._error(request, 404, "RepoNotFound", "not found")

    def _info(self, request: HubRequest, repo: HubRepo, revision: str) -> None:
        if revision not in ("main", repo.commit):
            return self._error(request, 404, "RevisionNotFound", "Invalid rev id")
        self._json(
            request,
            {
                "id": repo.repo_id,
                "sha": repo.commit,
                "private": False,
                "siblings": [
                    {"rfilename": name, "size": len(data)} for name, data in repo.files.items()
                ],
            },
        )

    def _json(self, request: HubRequest, value: object) -> None:
        body = json.dumps(value).encode()
        request.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        request.sent = len(body)

    def _tree(self, request: HubRequest, repo: HubRepo, revision: str, below: str) -> None:
        """Every file and folder below ``below`` (the listing is always recursive)."""
        if revision not in ("main", repo.commit):
            return self._error(request, 404, "RevisionNotFound", "Invalid rev id")
        prefix = f"{below.strip('/')}/" if below.strip("/") else ""
        entries: dict[str, dict] = {}
        for name, data in sorted(repo.files.items()):
            if not name.startswith(prefix):
                continue
            parts = name.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder.startswith(prefix):
                    entries.setdefault(
                        folder, {"type": "directory", "oid": "0" * 40, "path": folder}
                    )
            oid = hashlib.sha1(data).hexdigest()
            entries[name] = {"type": "file", "oid": oid, "size": len(data), "path": name}
        self._json(request, list(entries.values()))

    def _file(self, request: HubRequest, repo: HubRepo, revision: str, name: str) -> None:
        if revision not in ("main", repo.commit):
            return self._error(request, 404, "RevisionNotFound", "Invalid rev id")
        data = repo.files.get(name)
        if data is None:
            return self._error(request, 404, "EntryNotFound", "Entry not found")
        start = 0
        if request.range and request.range.startswith("bytes="):
            start = int(request.range[len("bytes=") :].split("-")[0] or 0)
        body = data[start:]
        request.status = 206 if start else 200
        self.send_response(request.status)
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{_etag(data)}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with self.state.lock:
            drop = name in self.state.drop_once
            slow = name in self.state.slow_once
            self.state.drop_once.discard(name)
            self.state.slow_once.discard(name)
        try:
            if drop:
                half = body[: len(body) // 2]
                self.wfile.write(half)
                self.wfile.flush()
                request.sent = len(half)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            step = self.state.slow_chunk if slow else len(body) or 1
            for offset in range(0, len(body), step):
                self.wfile.write(body[offset : offset + step])
                self.wfile.flush()
                request.sent += len(body[offset : offset + step])
                if slow:
                    time.sleep(self.state.slow_pause)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class HubStandIn:
    """The stand-in server, running in a thread; use as a context manager."""

    def __init__(self, repos: list[HubRepo]) -> None:
        state = _State({repo.repo_id: repo for repo in repos})
        handler = type("Handler", (_Handler,), {"state": state})
        self.state = state
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[HubRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def gets(self, name: str) -> list[HubRequest]:
        """The ``GET`` requests for file ``name`` (a repository path)."""
        return [r for r in self.requests if r.method == "GET" and r.file == name]

    def publish(self, repo: HubRepo) -> None:
        """Put a new commit of ``repo`` on its ``main`` branch."""
        with self.state.lock:
            self.state.repos[repo.repo_id] = repo

    def slow(self, name: str, *, chunk: int = 2048, pause: float = 0.02) -> None:
        """Send file ``name`` slowly the next time it is fetched."""
        with self.state.lock:
            self.state.slow_once.add(name)
            self.state.slow_chunk, self.state.slow_pause = chunk, pause

    def drop(self, name: str) -> None:
        """Cut the connection half way through file ``name`` the next time it is fetched."""
        with self.state.lock:
            self.state.drop_once.add(name)

    def clear(self) -> None:
        with self.state.lock:
            self.state.requests.clear()

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
