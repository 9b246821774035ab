"""The server under attack and overload: a real `healthsearch serve` process on loopback.

- a large body refused at once and never written to disk; any body on a GET refused;
- the server's own error replies (413, 431, 400) carrying the security headers;
- hundreds of slow sockets (a slowloris) while normal requests answer, then closed;
- the Host header never reflected; an article id with ".." linked so that it stays put;
- the access log's lines parsed;
- an overload of expensive questions: cached answers and /healthz still fast, every
  refusal a 503 with Retry-After (slow: about 20 s).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psutil
import pytest
from click.testing import CliRunner

from bench.http_load import SlowClients, probe
from healthsearch.cli import cli
from indexer.config import QUEUE, THREADS, Settings
from tests.browser_support import Server, build_index
from tests.conftest import CORPUS
from webapp import SECURITY_HEADERS

# Short client timeouts, so that the test sees the server close slow connections.
REQUEST_TIMEOUT_S = 3
ODD_IDS = ["../../x", "..", "a/./b"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server over the shipped corpus and articles with odd ids, logging its requests."""
    root = tmp_path_factory.mktemp("limits")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in CORPUS.iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "odd.jsonl").write_text("".join(
        json.dumps({"id": i, "title": f"Odd id {n}", "text": f"zqoddid{n} an article."}) + "\n"
        for n, i in enumerate(ODD_IDS)))
    access_log = root / "access.log"
    server = Server(build_index(corpus, root / "index"), root / "server.log",
                    "--threads", "8", "--access-log", str(access_log),
                    env={"HEALTHSEARCH_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_S),
                         "HEALTHSEARCH_CLIENT_TIMEOUT": str(REQUEST_TIMEOUT_S)})
    server.start().wait_ready(60)
    try:
        yield server, access_log
    finally:
        server.stop()


def raw(port: int, head: bytes, body: bytes = b"", timeout: float = 5.0) -> tuple[float, bytes]:
    """Send a request's bytes on a fresh socket: (seconds until the first answer bytes came,
    the answer's status line and headers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        if body:
            # The server may answer and close while the body is still being sent.
            with contextlib.suppress(OSError):
                sock.sendall(body)
        answer = sock.recv(65536)
        return time.perf_counter() - started, answer.split(b"\r\n\r\n")[0]


def headers_of(answer: bytes) -> dict[str, str]:
    lines = answer.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


def written_to_files(pid: int) -> tuple[int, list[str]]:
    """Bytes the process has written (files and sockets alike) and the deleted files it
    holds open (where a spooled body would be)."""
    proc = psutil.Process(pid)
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        # A descriptor the server closes between the listing and the read is gone: skip it.
        with contextlib.suppress(FileNotFoundError):
            held.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return proc.io_counters().write_chars, [h for h in held if h.endswith("(deleted)")]


def test_a_large_body_is_refused_at_once_and_never_written_to_disk(served):
    server, _ = served
    before, _ = written_to_files(server.proc.pid)
    # 1,000 MB announced: refused from the headers alone, while the client is still sending.
    took, answer = raw(server.port, b"POST /api/search HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 1000000000\r\n\r\n", b"x" * (4 << 20))
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert took < 1.0
    # No length, chunks until past the cap: refused once the cap is passed.
    chunk = b"%x\r\n%s\r\n" % (16384, b"y" * 16384)
    took, answer = raw(server.port, b"POST /search HTTP/1.1\r\nHost: x\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n", chunk * 256)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert took < 1.0
    after, deleted = written_to_files(server.proc.pid)
    # Some answers' bytes, no spooled megabytes, and no temporary file left open.
    assert after - before < 256 * 1024 and deleted == []
    # A GET takes no body at all, however small.
    _, answer = raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"\r\nhello")
    assert answer.startswith(b"HTTP/1.1 400"), answer


@pytest.mark.parametrize(("name", "request_bytes", "status"), [
    ("body over the cap", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
     b"413"),
    ("headers over the cap", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000
     + b"\r\n\r\n", b"431"),
    ("garbage", b"NOT HTTP AT ALL\r\n\r\n", b"400"),
])
def test_the_servers_own_error_replies_carry_the_security_headers(served, name,
                                                                  request_bytes, status):
    server, _ = served
    _, answer = raw(server.port, request_bytes)
    assert answer.split(b" ")[1] == status, (name, answer)
    headers = headers_of(answer)
    for header, value in SECURITY_HEADERS.items():
        assert headers.get(header.lower()) == value, (name, header)


def test_hundreds_of_slow_sockets_leave_normal_requests_answered(served):
    server, _ = served
    paths = ["/healthz", "/api/search?q=tendon", "/static/style.css"] * 5
    probe("127.0.0.1", server.port, paths[:3])  # the search answer is cached from now on
    with SlowClients("127.0.0.1", server.port, 600, interval=1.0) as slow:
        time.sleep(1.5)
        held = slow.open()
        during = probe("127.0.0.1", server.port, paths, timeout=5)
        # Trickling a header line a second, they never go idle: the request deadline closes
        # them (checked every second or so).
        deadline = time.monotonic() + REQUEST_TIMEOUT_S + 5
        while slow.open() and time.monotonic() < deadline:
            time.sleep(0.25)
        left = slow.open()
    print(f"\n  600 slow sockets: {held} held by the server; meanwhile {during}")
    assert slow.refused == 0 and held == 600
    assert during["ok"] == len(paths) and during["max_ms"] < 1000, during
    assert left == 0


def test_the_host_header_is_not_reflected(served):
    server, _ = served
    for path in ("/opensearch.xml", "/", "/search?q=tendon", "/favicon.ico", "/nowhere"):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", path, headers={"Host": "evil.example.com"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        assert "evil.example.com" not in body, path
        assert "evil.example.com" not in str(response.getheaders()), path


def test_an_id_with_dots_is_linked_where_a_browser_finds_it(served):
    server, _ = served
    for n, doc_id in enumerate(ODD_IDS):
        page = f"{server.url}/search?q=zqoddid{n}"
        status, body = get(server, urlsplit(page).path + "?" + urlsplit(page).query)
        assert status == 200
        link = next(h for h in body.split('href="')[1:] if h.startswith("/article"))
        link = link.split('"')[0].replace("&amp;", "&")
        # A browser resolves "." and ".." in the path; the link must survive that.
        resolved = urlsplit(urljoin(page, link))
        assert resolved.path.startswith("/article"), (doc_id, link)
        status, article = get(server, f"{resolved.path}?{resolved.query}")
        assert status == 200 and f"Odd id {n}" in article, (doc_id, link)


def get(server: Server, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_access_log_lines_parse_with_question_status_time_and_cache(served):
    server, log = served
    get(server, "/api/search?q=zqlogged+question")
    get(server, "/api/search?q=zqlogged+question")
    get(server, "/search?q=zqlogged+question")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        mine = [e for e in lines if e["q"] == "zqlogged question"]
        if len(mine) == 3:
            break
        time.sleep(0.1)
    assert [(e["path"], e["status"], e["cache"]) for e in mine] == [
        ("/api/search", 200, "miss"), ("/api/search", 200, "hit"), ("/search", 200, "hit")]
    assert all(e["results"] == 0 and e["ms"] >= 0 and e["client"] == "127.0.0.1"
               for e in mine)


def test_serve_help_states_the_defaults_in_force(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HEALTHSEARCH_"):
            monkeypatch.delenv(name)
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    defaults = Settings()
    assert defaults.threads == THREADS and defaults.queue == QUEUE
    assert f"HEALTHSEARCH_THREADS; default {defaults.threads}]" in text
    assert f"HEALTHSEARCH_QUEUE; default {defaults.queue}]" in text
    assert f"HEALTHSEARCH_PROCESSES; default {defaults.processes};" in text
    assert f"default {defaults.host}]" in text and f"default {defaults.port}]" in text
    assert "--access-log" in text and "--base-url" in text


@pytest.mark.slow
@pytest.mark.parametrize("honour_retry_after", [True, False], ids=["as-told", "at-once"])
def test_an_overload_of_expensive_questions_leaves_cached_answers_fast(tmp_path,
                                                                        honour_retry_after):
    from bench import overload

    index_dir = overload.build_index(tmp_path, docs=2000)
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps({"expensive": overload.expensive_questions(3000)}))
    server = Server(index_dir, tmp_path / "server.log", "--threads", "8")
    server.start().wait_ready(60)
    try:
        overload.warm(server.port)
        # Clients that take Retry-After as told, and a flood of clients asking again at
        # once: the server's threads take the cached answers and /healthz first.
        row = overload.overload_round(server.port, str(queries), 64, 12.0,
                                      honour_retry_after=honour_retry_after)
    finally:
        server.stop()
    print(f"\n  {overload.format_row(row)}")
    assert row["errors"] == 0, row["error_kinds"]  # every refusal a 503 with Retry-After
    assert row["shed"] > 0 and row["served"] > 0
    assert row["probe_errors"] == {}
    # Cached answers and /healthz do not queue behind computed ones: their p95 is a small
    # share of the computed answers' (before admission control they were as slow: 3.7-5.9 s
    # against 6-7.5 s). A share, not milliseconds, because the machine's load scales both;
    # the 100 ms target is bench.overload's to measure.
    slow = row["computed_p95_ms"]
    assert row["cached"]["p95_ms"] <= slow / 5 and row["healthz"]["p95_ms"] <= slow / 5, row


def _writes_of(task_class, page: bytes) -> list[bytes]:
    """What a waitress task of `task_class` hands its channel, one entry per write, when
    the app answers a GET with `page`."""
    from types import SimpleNamespace

    from waitress.adjustments import Adjustments
    from waitress.parser import HTTPRequestParser

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html"),
                                  ("Content-Length", str(len(page)))])
        return [page]

    adj = Adjustments(ident="healthsearch")
    request = HTTPRequestParser(adj)
    request.received(b"GET /search?q=x HTTP/1.1\r\nHost: localhost\r\n\r\n")
    writes: list[bytes] = []
    channel = SimpleNamespace(
        adj=adj, addr=("127.0.0.1", 50000), check_client_disconnected=lambda: False,
        write_soon=lambda data: writes.append(bytes(data)) or len(data),
        server=SimpleNamespace(adj=adj, application=app, effective_host="127.0.0.1",
                               effective_port=8000, server_name="localhost"))
    task_class(channel, request).service()
    return writes


def test_a_page_leaves_with_its_header_in_one_write():
    # A process killed between a header and its body leaves a proxy a page it has begun
    # forwarding and cannot resend; written together, it is all sent or none of it.
    from waitress.task import WSGITask

    from webapp.server import SEND_BUFFER_BYTES, _OneSendTask, listen

    page = b"<li>result</li>" * 900
    assert len(_writes_of(WSGITask, page)) == 2  # waitress's own: header, then body
    [write] = _writes_of(_OneSendTask, page)
    assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(b"\r\n\r\n" + page)
    with contextlib.closing(listen("127.0.0.1", 0)) as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= min(
            SEND_BUFFER_BYTES, 2 * int(Path("/proc/sys/net/core/wmem_max").read_text()))


class _Request:
    def __init__(self, path: str, query: str = "", error: object = None) -> None:
        self.path, self.query, self.error = path, query, error


class _Task:
    def __init__(self, name: str, request: _Request | None) -> None:
        self.name, self.request = name, request


def test_the_servers_threads_take_requests_needing_no_computing_first():
    from webapp.server import CheapFirstDispatcher

    def needs_computing(path: str, query: str) -> bool:
        if query == "q=broken":
            raise RuntimeError("the check itself failed")
        return path == "/api/search" and query != "q=cached"

    dispatcher = CheapFirstDispatcher(needs_computing)  # no threads: the queue stays put
    for name, request in [("computed 1", _Request("/api/search", "q=a")),
                          ("health", _Request("/healthz")),
                          ("computed 2", _Request("/api/search", "q=b")),
                          ("cached", _Request("/api/search", "q=cached")),
                          ("check failed", _Request("/api/search", "q=broken")),
                          ("bad request", _Request("/api/search", "q=c", error="400")),
                          ("no request", None)]:
        dispatcher.add_task(_Task(name, request))
    assert [t.name for t in dispatcher.queue] == [
        "no request", "bad request", "cached", "health",
        "computed 1", "computed 2", "check failed"]


def test_the_check_before_the_app_knows_a_cached_answer_from_one_to_compute(tmp_path):
    from webapp import create_app
    from webapp.views import computing_check

    index_dir = build_index(CORPUS, tmp_path / "index")
    app = create_app(Settings(index_dir=index_dir))
    needs_computing = computing_check(app)
    assert needs_computing("/api/search", "q=kidney+stones")
    assert needs_computing("/search", "q=kidney+stones&page=1")
    app.test_client().get("/api/search?q=kidney+stones")
    app.test_client().get("/search?q=kidney+stones")
    assert not needs_computing("/api/search", "q=kidney+stones")
    assert not needs_computing("/search", "q=kidney+stones")
    assert needs_computing("/api/search", "q=kidney+stones&exact=1")  # another answer
    assert needs_computing("/search", "q=kidney+stones&page=2")
    for cheap in [("/healthz", ""), ("/static/site.css", ""), ("/search", ""),
                  ("/search", "q=%20"), ("/api/search", "q=x&page=nan"),
                  ("/api/search", "q=x&kind=poem"), ("/article/x", "q=kidney")]:
        assert not needs_computing(*cheap), cheap
