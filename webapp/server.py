"""Serving the app under waitress, in one process or several sharing one listening socket.

Python threads share one core for pure-Python work such as Whoosh scoring, so to use every
core the server forks processes after binding: the kernel spreads connections across them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys

from threadpoolctl import threadpool_limits
from waitress import serve as waitress_serve

from indexer.config import Settings


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6), address reuse on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    app = create_app(settings)
    # Each process has its own caches: fill them before taking connections.
    with contextlib.suppress(Exception):  # no index yet, or a swap under way: warm lazily
        app.extensions["search_engine"].warm()
    release_freed_memory()
    waitress_serve(app, sockets=[sock], threads=settings.threads, ident="healthsearch",
                   connection_limit=max(100, settings.threads * 32), channel_timeout=30)


def run(settings: Settings, processes: int = 1) -> None:
    """Serve until interrupted; with processes > 1, fork that many workers on one socket.

    A worker that dies is replaced, so one crash does not take the site down.
    """
    limit_malloc_arenas(settings.malloc_arenas)  # before any thread allocates; forks inherit it
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
