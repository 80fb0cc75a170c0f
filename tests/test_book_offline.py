"""The rendered book works offline: every page loads with no request leaving the machine, and math renders.

Builds the whole book (every page of ``_toc.yml``) from the chapter *sources* — unexecuted, so the test
needs no model runs; the rendering of prose, math, figures' captions and the theme is the same — and opens
each page in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, installed by ``.ci/run``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from w2s_lib.core import paths
from w2s_lib.publish import book

pytestmark = pytest.mark.slow

CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("book_project")
    repo = paths.REPO_ROOT
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(repo / name, root / name)
    shutil.copytree(repo / "book", root / "book", ignore=shutil.ignore_patterns("_build", "chapters"))
    chapters = root / "book" / "chapters"
    chapters.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setattr(book, "CHAPTER_DIR", chapters)
    mp.setattr(book, "STATUS_PAGE", chapters / "runtime.md")
    try:
        for nb in book.NOTEBOOKS:
            shutil.copy(nb.path, chapters / f"{nb.stem}.ipynb")
            book.decorate_for_book(chapters / f"{nb.stem}.ipynb", None)
        book.write_status_page()
    finally:
        mp.undo()
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(root), "--path-output", str(root / "book")],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    html = root / "book" / "_build" / "html"
    assert (html / "index.html").is_file()
    return html


def _pages(html: Path) -> list[Path]:
    skip = {"genindex.html", "search.html"}
    return sorted(p for p in html.rglob("*.html") if p.name not in skip and "_static" not in p.parts)


def test_mathjax_is_served_from_the_book(built_book):
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    page = (built_book / "book" / "chapters" / "11_confidence_loss.html").read_text()
    assert "cdn.jsdelivr" not in page and "_static/mathjax/tex-chtml.js" in page


def test_install_cell_and_injected_parameters_are_not_shown(built_book):
    page = (built_book / "book" / "chapters" / "10_naive_w2s.html").read_text()
    assert "On Colab: install" not in page
    assert "colab-badge.svg" not in page  # the badge is a text link: no image that breaks offline


@pytest.mark.skipif(CHROMEDRIVER is None, reason="needs Debian's chromium-driver (.ci/run installs it)")
def test_every_page_loads_offline_with_rendered_math(built_book):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    problems, math_pages = [], 0
    try:
        pages = _pages(built_book)
        assert len(pages) >= 14
        for page in pages:
            driver.get(page.as_uri())
            deadline = time.time() + 20
            while time.time() < deadline and driver.execute_script(
                    "return document.readyState") != "complete":
                time.sleep(0.1)
            has_math = driver.execute_script("return document.querySelectorAll('.math').length") > 0
            if has_math:
                math_pages += 1
                while time.time() < deadline and not driver.execute_script(
                        "return document.querySelectorAll('mjx-container').length > 0"):
                    time.sleep(0.2)
                if not driver.execute_script("return document.querySelectorAll('mjx-container').length > 0"):
                    problems.append(f"{page.name}: math not rendered")
            for entry in driver.get_log("performance"):
                msg = json.loads(entry["message"])["message"]
                if msg["method"] == "Network.requestWillBeSent":
                    url = msg["params"]["request"]["url"]
                    if not url.startswith(("file:", "data:", "blob:", "about:")):
                        problems.append(f"{page.name}: request leaves the machine: {url}")
                elif msg["method"] == "Network.loadingFailed" and not msg["params"].get("canceled"):
                    problems.append(f"{page.name}: failed request ({msg['params'].get('errorText')})")
    finally:
        driver.quit()
    assert not problems, "\n".join(problems[:30])
    assert math_pages >= 5  # the chapters' equations were really checked
