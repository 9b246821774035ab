"""Screenshots of the pages a reader meets, at desktop and phone width, for a review.

    python tools/screenshots.py --index-dir var/index --out shots/
    python tools/screenshots.py --index-dir var/index --out shots/ \
        --search "high blood pressure" --article NHLBI-0000001_1

Starts `healthsearch serve` over the index on a free local port, opens the home page, the
results of each --search, each --article (with the first search's words) and the first
letter page of the A–Z index in headless Chromium (Debian's `chromium`, as the browser tests
use it), and saves full-page PNGs named <page>-<desktop|phone>.png and the first screen of each as
<page>-<desktop|phone>-top.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(index_dir: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "healthsearch", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--index-dir", str(index_dir), "--processes", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not answer /healthz within 120 s")


def pages(searches: list[str], articles: list[str]) -> dict[str, str]:
    """Page name -> path of each page to capture."""
    out = {"home": "/"}
    for n, q in enumerate(searches, start=1):
        out[f"results-{n}"] = "/search?" + urlencode({"q": q})
    for n, doc_id in enumerate(articles, start=1):
        query = urlencode({"q": searches[0]}) if searches else ""
        out[f"article-{n}"] = f"/article/{quote(doc_id)}" + (f"?{query}" if query else "")
    out["topics"] = "/topics/h"
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--search", action="append", default=[], help="a search to capture")
    parser.add_argument("--article", action="append", default=[], help="an article id")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("HEALTHSEARCH_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no chromium: install Debian's chromium (make browser-deps)")
    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = _serve(args.index_dir, port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for width, viewport in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport, is_mobile=width == "phone",
                                              device_scale_factor=1)
                tab = context.new_page()
                for name, path in pages(args.search, args.article).items():
                    tab.goto(f"http://127.0.0.1:{port}{path}")
                    tab.screenshot(path=args.out / f"{name}-{width}.png", full_page=True)
                    # The first screen: what a reader sees before scrolling.
                    tab.screenshot(path=args.out / f"{name}-{width}-top.png")
                    print(args.out / f"{name}-{width}.png")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
