"""Helpers for the web and browser tests: small generated corpora, a real server, Chromium.

The corpora are written on the fly (nothing is checked in), from a fixed seed so every run
sees the same articles.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from indexer.build import index_corpus
from indexer.storage import IndexStore

ROOT = Path(__file__).resolve().parent.parent
# Twelve records shaped like MedQuAD's: same-titled pages from several publishers, with
# questions (section headings) and lists.
MEDQUAD_SHAPED = ROOT / "tests" / "fixtures" / "medquad_shaped"

# -- a larger corpus for paging ------------------------------------------------------------

PAGED_WORD = "hydration"
PAGED_COUNT = 60
PAGED_SEED = 20240611
LONG_WORD = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3
_TOPICS = ["runners", "toddlers", "older adults", "hot weather", "office workers", "hikers",
           "pregnancy", "students", "cyclists", "night shifts", "travel", "winter"]
_SENTENCES = [
    "Good {w} helps the body keep its temperature steady.",
    "Plain water is the simplest way to support {w} during the day.",
    "Fruit and soup also count towards daily {w}.",
    "Thirst, dark urine and headaches can be signs of poor {w}.",
    "Coaches often plan {w} breaks for outdoor sessions.",
    "Salty snacks change how much fluid the body holds, which matters for {w}.",
    "A refillable bottle makes {w} easier to remember.",
    "Caffeine in moderate amounts does not ruin {w} for most adults.",
]


def write_paged_corpus(folder: Path, count: int = PAGED_COUNT, seed: int = PAGED_SEED
                       ) -> list[str]:
    """`count` plain-text articles that all mention PAGED_WORD; returns their titles."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    titles = []
    for n in range(1, count + 1):
        title = f"Hydration note {n:02d}: {rng.choice(_TOPICS)}"
        picked = rng.sample(_SENTENCES, k=rng.randint(3, 6))
        body = " ".join(s.format(w=PAGED_WORD) for s in picked)
        if n == 1:  # one unbreakable word, to check that narrow screens still wrap the text
            body += f" The longest word in the notes is {LONG_WORD}."
        (folder / f"note-{n:02d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        titles.append(title)
    return titles


# -- a corpus with markup, odd ids and odd links ---------------------------------------------

SCRIPT_TEXT = "<script>alert(1)</script>"
ODD_ID = "odd id/with?query&hash#end"
LONG_ID = "long-read"
HOSTILE_RECORDS = [
    {"id": "script-in-body", "title": "Selenium and the immune system",
     "text": f"Selenium matters. The next words are not a tag: {SCRIPT_TEXT} really.\n\n"
             "A second paragraph about selenium and <b>bold</b> claims.",
     "url": "javascript:alert(2)"},
    {"id": "markup-title", "title": "<img src=x onerror=alert(3)> Zinc facts",
     "text": "Zinc helps wounds heal. Oysters are rich in zinc."},
    {"id": ODD_ID, "title": "Magnesium with an odd address",
     "text": "Magnesium is found in nuts, seeds and leafy greens."},
    {"id": "web-source", "title": "Iodine and the thyroid",
     "text": "Iodine is needed to make thyroid hormones.",
     "url": "https://example.org/iodine"},
    {"id": LONG_ID, "title": "A long read on potassium",
     "text": " ".join(f"Sentence {n} says potassium keeps muscles and nerves working well."
                      for n in range(1, 41))},
]


def write_hostile_corpus(folder: Path) -> Path:
    """A JSON Lines file whose text, titles, ids and links try to break the pages."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in HOSTILE_RECORDS), encoding="utf-8")
    return path


def build_index(corpus: Path, index_dir: Path) -> Path:
    """A fresh index of `corpus` in `index_dir`."""
    index_corpus([corpus], IndexStore(index_dir))
    return index_dir


# -- a real server ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m indexer serve` over one index, on a free local port, as a subprocess."""

    def __init__(self, index_dir: Path, log_path: Path, *args: str,
                 env: dict[str, str] | None = None):
        """`args`: more flags for `healthsearch serve`; `env`: HEALTHSEARCH_* settings."""
        self.index_dir = index_dir
        self.log_path = log_path
        self.args, self.env = args, env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> Server:
        """Launch the server without waiting for it (see wait_ready)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHSEARCH_")}
        env["HEALTHSEARCH_PER_PAGE"] = "10"
        env.update(self.env)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "healthsearch", "serve", "--host", "127.0.0.1",
             "--processes", "1", "--port", str(self.port), "--index-dir", str(self.index_dir),
             "--threads", "4", *self.args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> Server:
        """Block until /healthz answers 200; fail with the server's output if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout:.0f}s: {self.output()}")

    def output(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Terminate the server, killing it if it does not stop promptly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()


# -- Chromium --------------------------------------------------------------------------------

CHROMIUM = os.environ.get("HEALTHSEARCH_CHROMIUM") or shutil.which("chromium") \
    or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return (f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                "(make browser-deps, as root)")
    return None
