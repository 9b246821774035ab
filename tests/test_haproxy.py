"""HAProxy's configuration made from the settings, and `cluster status` on replicas that do
not answer (the running cluster is tested in tests/test_cluster.py)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from healthsearch.cli import cli
from healthsearch.haproxy import haproxy_config
from indexer.config import Replica, parse_replicas


def test_the_config_checks_health_retries_elsewhere_and_names_every_replica(tmp_path):
    replicas = parse_replicas(["a=http://127.0.0.1:8101", "b=http://[::1]:8102"])
    text = haproxy_config(replicas, "127.0.0.1", 8000)
    assert "bind 127.0.0.1:8000" in text
    assert "option httpchk GET /healthz" in text
    assert "option redispatch 1" in text and "retry-on all-retryable-errors" in text
    assert "server r1 127.0.0.1:8101 check" in text and "server r2 [::1]:8102 check" in text
    if shutil.which("haproxy"):
        path = tmp_path / "haproxy.cfg"
        path.write_text(text)
        check = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_a_replica_without_an_address_cannot_be_balanced():
    with pytest.raises(ValueError, match="needs a host and a port"):
        haproxy_config([Replica("r1", "dir")], "127.0.0.1", 8000)
    with pytest.raises(ValueError, match="no replicas"):
        haproxy_config([], "127.0.0.1", 8000)


def test_cluster_status_says_which_replica_is_down_and_fails(tmp_path):
    # Port 9 on localhost: nothing listens there, so the connection is refused at once.
    result = CliRunner().invoke(cli, ["cluster", "status", "--json", "--replica",
                                      f"{tmp_path}=http://127.0.0.1:9"])
    assert result.exit_code == 1
    [row] = json.loads(result.output)
    assert (row["name"], row["healthy"], row["generation"]) == ("r1", False, None)
    assert "refused" in row["error"].lower()


def test_publish_without_replicas_says_how_to_name_them(tmp_path, monkeypatch):
    monkeypatch.delenv("HEALTHSEARCH_REPLICAS", raising=False)
    monkeypatch.delenv("HEALTHSEARCH_CLUSTER_FILE", raising=False)
    result = CliRunner().invoke(cli, ["publish", "--index-dir", str(tmp_path)])
    assert result.exit_code != 0 and "--replica" in result.output
