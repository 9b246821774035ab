"""Serving the app under waitress, in one process or several sharing one listening socket.

Python threads share one core for pure-Python work such as Whoosh scoring, so to use every
core the server forks processes after binding: the kernel spreads connections across them.

Waitress reads requests in one poll() loop and hands only whole requests to its threads, so
a connection that sends its headers slowly costs a socket, not a thread: 1,000 such sockets
left /healthz answering in 16 ms at p95, where gunicorn's gthread workers (27.0.1, 4 threads,
4,000 connections) and waitress with its defaults (select(), 100 connections) answered
nothing (bench.http_load.SlowClients). The limits are set here, before the app: bodies over
the cap refused as soon as their length is known and never spooled to disk, header size, an
idle timeout, a deadline for a whole request however slowly it trickles, and a connection
limit that the open-files limit is raised to hold.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable

from threadpoolctl import threadpool_limits
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from indexer.config import Settings
from webapp import SECURITY_HEADERS
from webapp.views import computing_check

# Larger than any page the app sends: a results page on MedQuAD is 6-14 KB.
SEND_BUFFER_BYTES = 256 * 1024


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6), address reuse on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Connections inherit a send buffer that holds a whole page, so a page leaves in one
    # send() (see _OneSendTask); the kernel caps it at twice net.core.wmem_max.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


# glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap the C allocator's arenas (glibc); True when the cap was set.

    glibc gives each thread that allocates at once its own arena, and memory freed in one is
    not reused by another: serving the 100k corpus with 8 threads, resident memory after 20 s
    of load was 227 MB with glibc's default and 196 MB with 2 arenas, with no fewer requests
    answered (bench/results/2026-12-02-malloc-arenas.md). 0 leaves glibc's default.
    """
    if arenas <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: nothing to cap
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def release_freed_memory() -> bool:
    """Hand the C heap's free pages back to the OS (glibc's malloc_trim); True when it did.

    Warming a process reads the index's columns and the spelling word list through buffers
    that are freed again; glibc keeps freed heap memory for reuse, and a server that never
    needs that much again would carry it for its whole life.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(trim(0))


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never past the hard
    limit); the limit now in force. Each connection is a file: 1,024, a common default,
    would cap the connection limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


class _SecureErrorTask(ErrorTask):
    """Waitress's own error replies (400, 413, 431...) with the site's security headers."""

    def execute(self) -> None:
        self.response_headers.extend(SECURITY_HEADERS.items())
        super().execute()


class _Gathered:
    """Stands in for a channel while a task writes its first part: keeps what is written."""

    def __init__(self, channel: HTTPChannel) -> None:
        self.channel, self.parts = channel, []

    def write_soon(self, data) -> int:
        self.parts.append(data)
        return len(data)

    def __getattr__(self, name: str):
        return getattr(self.channel, name)


class _OneSendTask(WSGITask):
    """A response whose header leaves with the first part of its body, in one write.

    Waitress sends the header on its own and then the body: a replica killed between the
    two leaves HAProxy a header without its page, which it has already begun forwarding and
    cannot resend (the cluster test saw one such cut page). Written together, in one send()
    to a buffer that holds the page, a killed process has sent all of it or nothing, and
    nothing is what HAProxy resends elsewhere.
    """

    def write(self, data) -> None:
        if self.wrote_header:
            super().write(data)
            return
        channel, gathered = self.channel, _Gathered(self.channel)
        self.channel = gathered
        try:
            super().write(data)
        finally:
            self.channel = channel
        if gathered.parts:
            channel.write_soon(b"".join(gathered.parts))


class CheapFirstDispatcher(ThreadedTaskDispatcher):
    """Waitress's thread pool, with requests that must compute a question taken last.

    Waitress hands whole requests to its threads in arrival order. Under a flood of
    expensive questions (each refused at once by admission control, and asked again at
    once) a health check or a cached answer waited behind dozens of them. Here a request
    for which `needs_computing(path, query)` is False goes to the front of the queue.
    """

    def __init__(self, needs_computing: Callable[[str, str], bool]) -> None:
        super().__init__()
        self.needs_computing = needs_computing

    def add_task(self, task) -> None:
        """Queue a task: at the back if it computes a question, else at the front."""
        request = getattr(task, "request", None)
        try:
            last = request is not None and request.error is None and self.needs_computing(
                request.path, request.query)
        except Exception:  # a check that fails only costs the request its place
            last = True
        with self.lock:
            if last:
                self.queue.append(task)
            else:
                self.queue.appendleft(task)
            self.queue_cv.notify()


class _TimedParser(HTTPRequestParser):
    """A request being read, with when its first byte came."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()


class _Channel(HTTPChannel):
    error_task_class = _SecureErrorTask
    task_class = _OneSendTask
    parser_class = _TimedParser


class _Server(TcpWSGIServer):
    """Waitress's TCP server that also closes connections whose request has taken longer
    than `request_timeout` to arrive: waitress's own timeout is for idle connections, and a
    client sending a header line every few seconds is never idle."""

    channel_class = _Channel
    request_timeout = 15.0

    def maintenance(self, now: float) -> None:
        """Close idle connections (waitress) and those past the request deadline."""
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            if request is not None and not channel.requests \
                    and getattr(request, "started", cutoff) < cutoff:
                channel.will_close = True


def waitress_server(app, sock: socket.socket, settings: Settings) -> _Server:
    """The waitress server for `app` on a bound, listening socket, with the limits of
    `settings`."""
    timeouts = min(settings.client_timeout_s, settings.request_timeout_s)
    adj = Adjustments(
        sockets=[sock], threads=settings.threads, ident="healthsearch",
        connection_limit=settings.connection_limit,
        # poll(), not select(): select() cannot watch a socket numbered 1,024 or more.
        asyncore_use_poll=True,
        channel_timeout=settings.client_timeout_s,
        cleanup_interval=max(1, timeouts // 3),
        max_request_body_size=settings.max_body_bytes,
        # A body is kept in memory up to here and spooled to a file past it: past the cap,
        # so never.
        inbuf_overflow=settings.max_body_bytes + 1,
        max_request_header_size=settings.max_header_bytes,
    )
    dispatcher = (CheapFirstDispatcher(computing_check(app)) if settings.cheap_first
                  else ThreadedTaskDispatcher())
    dispatcher.set_thread_count(adj.threads)
    server = _Server(app, {}, True, sock, dispatcher=dispatcher, adj=adj, bind_socket=False,
                     sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
    server.request_timeout = float(settings.request_timeout_s)
    return server


def _serve_one(sock: socket.socket, settings: Settings) -> None:
    from webapp import create_app

    # Waitress logs a warning for every request queued behind busy threads: under a burst
    # that floods stderr (and blocks the server if nobody reads the pipe).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    # One BLAS thread per server process (the encoder has one ONNX Runtime thread too): a
    # question's work is small matrix products, which a second thread speeds up less than it
    # costs the other requests (LiveQA questions, NumPy encoder: 11 ms wall for 22 ms of CPU
    # with two threads, 16 ms for 16 ms with one).
    threadpool_limits(limits=1, user_api="blas")
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    app = create_app(settings)
    # Each process has its own caches: fill them before taking connections.
    with contextlib.suppress(Exception):  # no index yet, or a swap under way: warm lazily
        app.extensions["search_engine"].warm()
    release_freed_memory()
    waitress_server(app, sock, settings).run()


def run(settings: Settings, processes: int = 1) -> None:
    """Serve until interrupted; with processes > 1, fork that many workers on one socket.

    A worker that dies is replaced, so one crash does not take the site down.
    """
    limit_malloc_arenas(settings.malloc_arenas)  # before any thread allocates; forks inherit it
    # The connections, plus the index's files and the listening socket.
    raise_open_files_limit(settings.connection_limit + 256)
    sock = listen(settings.host, settings.port)
    if processes <= 1:
        _serve_one(sock, settings)
        return
    children: set[int] = set()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                _serve_one(sock, settings)
            finally:
                os._exit(0)
        children.add(pid)

    def stop(signum, frame) -> None:
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        sys.exit(0)

    for _ in range(processes):
        spawn()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        pid, _status = os.wait()
        children.discard(pid)
        spawn()
