"""The docs site, built as `make docs` builds it and opened in Debian's headless Chromium: the home
page, the spec reference and the benchmarks page render with every image, stylesheet and script
the browser asked for served, and every link on them leading to a page (and an anchor) that exists.

The site is served over HTTP by a server that records each request the browser makes and the
status it got, so a broken image is one the browser itself failed to load, not one a test guessed
at; the links are read from the DOM Chromium rendered, scripts run.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from tests.support.browser import browse, visible_text

pytestmark = pytest.mark.xdist_group("docs_site")  # one build of the site, shared by the module

ROOT = Path(__file__).resolve().parents[2]
#: what the Makefile's DOCS_ENV sets: mkdocs-material's banners about MkDocs' future, silenced
DOCS_ENV = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Site:
    """The built site, served: its root URL and every request the browser made, with its status."""

    root: Path
    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


class _Logged(SimpleHTTPRequestHandler):
    site: Site

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.site.requests.append((unquote(urlsplit(self.path).path), int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run([str(ROOT / ".venv" / "bin" / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
                           cwd=ROOT, env={**os.environ, **DOCS_ENV}, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    served = Site(out, "")
    handler = type("Handler", (_Logged,), {"site": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


class _Page(HTMLParser):
    """A page's links, images and element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.resources: list[str] = []  # stylesheets, scripts, fonts the page loads
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.add(str(named["id"]))
        if tag == "a" and named.get("href"):
            self.links.append(str(named["href"]))
        if tag == "img" and named.get("src"):
            self.images.append(str(named["src"]))
        if tag == "script" and named.get("src"):
            self.resources.append(str(named["src"]))
        if tag == "link" and named.get("href") and named.get("rel") != "canonical":
            self.resources.append(str(named["href"]))


def _parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _file(site: Site, path: str) -> Path:
    """The built file a site path names (a folder's index.html)."""
    local = site.root / unquote(path).lstrip("/")
    return local / "index.html" if path.endswith("/") or local.is_dir() else local


def _open(site: Site, path: str, chromium: str, profile: Path) -> tuple[_Page, str]:
    """The page as Chromium rendered it, after its scripts ran, and its visible text; every
    request it made for the page and what the page loads was answered 200."""
    site.requests.clear()
    dom = browse(chromium, site.url + path.lstrip("/"), profile, "--dump-dom")
    failed = [(asked, code) for asked, code in site.requests if code >= 400]
    assert site.requests and not failed, f"{path}: the browser's requests that failed: {failed}"
    return _parsed(dom), visible_text(dom)


def _check_links_and_images(site: Site, path: str, page: _Page) -> None:
    here = site.url + path.lstrip("/")
    outside = [h for h in page.links if urlsplit(urljoin(here, h)).netloc not in ("", urlsplit(site.url).netloc)
               and not h.startswith(("mailto:",))]
    # the site works offline: the theme's own link to its maker is the only way out
    assert all("squidfunk.github.io" in h or "mkdocs.org" in h for h in outside), outside
    loaded_outside = [r for r in page.resources if urlsplit(urljoin(here, r)).netloc != urlsplit(site.url).netloc]
    assert not loaded_outside, f"{path}: loads from elsewhere (it must work offline): {loaded_outside}"
    inside = {urljoin(here, h) for h in page.links if h not in outside}
    for target in sorted(inside):
        parts = urlsplit(target)
        file = _file(site, parts.path)
        assert file.is_file(), f"{path}: a link to {target} leads to no page"
        if parts.fragment and file.suffix == ".html":
            assert unquote(parts.fragment) in _parsed(file.read_text()).ids, f"{path}: no #{parts.fragment} in {parts.path}"
    asked = {p for p, code in site.requests if code == 200}
    for src in page.images:
        image = urlsplit(urljoin(here, src)).path
        assert image in asked, f"{path}: the browser did not load the image {src}"
        data = _file(site, image).read_bytes()
        assert data.startswith(PNG) or b"<svg" in data[:500], f"{path}: {src} is not an image"


def test_the_home_page_renders_with_every_link_and_resource_whole(site: Site, chromium: str, tmp_path: Path) -> None:
    page, text = _open(site, "/", chromium, tmp_path)
    assert "driftline is online machine learning on live event streams" in text
    assert "Find your way" in text and "make demo" in text
    _check_links_and_images(site, "/", page)
    # every section of the site is reached from the home page
    here = {urlsplit(urljoin(site.url, h)).path for h in page.links}
    assert {"/getting-started/", "/reference/spec/", "/benchmarks/", "/development/"} <= here, sorted(here)


def test_the_spec_reference_lists_every_section_with_its_keys(site: Site, chromium: str, tmp_path: Path) -> None:
    page, text = _open(site, "/reference/spec/", chromium, tmp_path)
    for header in ("[pipeline]", "[[fields]]", "[[features.entity]]", "[model]", "[[drift]]", "[training]", "[validate]"):
        assert header in text, header
    assert re.search(r"canary_percent number 0 Share of entities", text), text[:2000]
    assert {"pipeline", "training", "featuresentity"} <= page.ids
    _check_links_and_images(site, "/reference/spec/", page)


def test_the_benchmarks_page_shows_the_last_run_and_the_history_plot(site: Site, chromium: str, tmp_path: Path) -> None:
    page, text = _open(site, "/benchmarks/", chromium, tmp_path)
    assert "The last make bench" in text and "History" in text and "Drift alerts" in text
    assert any(src.endswith("history.png") for src in page.images), page.images
    _check_links_and_images(site, "/benchmarks/", page)


def test_a_broken_link_or_a_missing_image_is_caught(site: Site, chromium: str, tmp_path: Path) -> None:
    """The checks above can fail: a page with a link to nowhere, and one whose image is gone."""
    broken = site.root / "broken"
    broken.mkdir()
    (broken / "index.html").write_text("<html><body><a href='../nowhere/'>x</a><img src='gone.png'></body></html>")
    with pytest.raises(AssertionError, match="gone.png"):
        _open(site, "/broken/", chromium, tmp_path)
    page = _parsed((broken / "index.html").read_text())
    with pytest.raises(AssertionError, match="leads to no page"):
        _check_links_and_images(site, "/broken/", page)
    (broken / "index.html").write_text("<html><body><a href='../reference/spec/#no-such-key'>x</a></body></html>")
    with pytest.raises(AssertionError, match="no #no-such-key"):
        _check_links_and_images(site, "/broken/", _parsed((broken / "index.html").read_text()))
    fonts = "<html><head><link rel='stylesheet' href='https://fonts.example/css'></head><body></body></html>"
    with pytest.raises(AssertionError, match="loads from elsewhere"):
        _check_links_and_images(site, "/broken/", _parsed(fonts))
