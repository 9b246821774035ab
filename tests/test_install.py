"""The standard install is the whole engine: `pip install .` of this checkout in a fresh
virtual environment, without the project's Makefile, indexes the shipped corpus with article
vectors and ranks by meaning."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CORPUS, ROOT


@pytest.mark.slow
def test_a_plain_pip_install_builds_vectors_for_the_shipped_corpus(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEALTHSEARCH_", "PYTHON", "VIRTUAL_ENV"))}
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
                             capture_output=True, text=True, timeout=900, env=env)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "elsewhere"  # not the checkout: the installed package must stand alone
    work.mkdir()
    index = subprocess.run([str(venv / "bin" / "healthsearch"), "index", str(CORPUS),
                            "--index-dir", str(work / "ix"), "--json", "--quiet"],
                           cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert index.returncode == 0, index.stderr
    assert index.stderr == ""  # no note that the model is missing
    summary = json.loads(index.stdout)
    assert summary["added"] == 16 and summary["vectors"]["embedded"] == 16
    stats = subprocess.run([str(venv / "bin" / "healthsearch"), "stats", "--json",
                            "--index-dir", str(work / "ix")], cwd=work, capture_output=True,
                           text=True, timeout=300, env=env)
    assert json.loads(stats.stdout)["meaning"] == "on"
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True,
                           text=True, env=env)
    assert probe.returncode != 0  # no deep-learning framework came with it
