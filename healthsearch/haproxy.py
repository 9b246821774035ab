"""HAProxy's configuration for the replicas, made from the same settings as the rest: it
listens where `healthsearch serve` would (host, port), checks each replica's /healthz, and
resends a request that a dying replica dropped to another one."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from indexer.config import Replica

# A replica is out of rotation after FALL failed checks INTERVAL apart, and back after RISE
# good ones: a killed replica stops getting new requests within about a second.
CHECK_INTERVAL_MS = 500
FALL = 2
RISE = 2
# Tries per request, each on another replica (option redispatch 1): a request in flight on
# a replica killed under it is resent (retry-on), as is one that could not connect.
RETRIES = 3
RESPONSE_HEADER = "X-Replica"


def server_address(replica: Replica) -> str:
    """host:port of a replica's URL, as HAProxy's `server` line wants it."""
    parts = urlsplit(replica.url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"replica {replica.name}: {replica.url!r} needs a host and a port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port}"


def haproxy_config(replicas: Sequence[Replica], host: str, port: int,
                   stats_socket: str | None = None) -> str:
    """The whole haproxy.cfg: one frontend on host:port, one backend of the replicas."""
    if not replicas:
        raise ValueError("no replicas to balance: name them with --replica or a cluster file")
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    stats = [f"    stats socket {stats_socket} mode 600 level admin"] if stats_socket else []
    servers = [f"    server {r.name} {server_address(r)} check inter {CHECK_INTERVAL_MS}ms "
               f"fall {FALL} rise {RISE}" for r in replicas]
    return "\n".join([
        "# Made by `healthsearch cluster haproxy-config` from the healthsearch settings.",
        "global",
        "    maxconn 4096",
        *stats,
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout check 2s",
        f"    retries {RETRIES}",
        "    option redispatch 1",
        # A dropped connection or an empty answer is safe to resend: every page is a GET.
        # Every error a GET may be resent after: no connection, a connection closed or cut
        # before a whole answer, a timeout, and 500/502/503/504 (a replica shedding load
        # answers 503; another one may have room).
        "    retry-on all-retryable-errors",
        "",
        "frontend healthsearch",
        f"    bind {bind}",
        "    default_backend replicas",
        "",
        "backend replicas",
        "    balance roundrobin",
        "    option httpchk GET /healthz",
        "    http-check expect status 200",
        f"    http-response set-header {RESPONSE_HEADER} %s",
        *servers,
        "",
    ])
