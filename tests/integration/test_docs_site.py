"""The docs site, built as `make docs` builds it and opened in Debian's headless Chromium: the home
page, the spec reference and the benchmarks page render with every image, stylesheet and script
the browser asked for served, and every link on them leading to a page (and an anchor) that exists.

The site is served over HTTP by a server that records each request the browser makes and the
status it got, so a broken image is one the browser itself failed to load, not one a test guessed
at; the links are read from the DOM Chromium rendered, scripts run, and followed through the same
server (a page that is not served, or an anchor it lacks, fails).

An image can be served and still be broken: the server adds one script to each page it serves
(the files on disk stay as built), which at the page's load event (it waits for every image)
writes on <html> what the browser made of each image: its natural width, 0 for an image missing
or one it could not decode; an image the browser could not draw fails. A raster image Chromium
draws in part (a PNG cut short) is decoded whole with Pillow as well.
"""

from __future__ import annotations

import json
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
from urllib.error import HTTPError
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import urlopen

import pytest
from PIL import Image

from tests.support.browser import browse, visible_text

pytestmark = pytest.mark.xdist_group("docs_site")  # one build of the site, shared by the module

ROOT = Path(__file__).resolve().parents[2]
#: what the Makefile's DOCS_ENV sets: mkdocs-material's banners about MkDocs' future, silenced
DOCS_ENV = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
#: added to each page served (not to the built files): at the load event, what the browser made of
#: each image, on <html data-test-images>; a broken image has no width. Written at once: a promise
#: (img.decode()) can settle after Chromium's virtual time ran out and the DOM was dumped
PROBE = b"""<script>
addEventListener("load", () => {
  document.documentElement.dataset.testImages = JSON.stringify([...document.images].map((image) =>
    ({src: image.getAttribute("src"), complete: image.complete, width: image.naturalWidth})));
});
</script>"""


@dataclass
class Site:
    """The built site, served: its root URL and every request the browser made, with its status."""

    root: Path
    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


class _Logged(SimpleHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        """A page with the image probe added before its </body>; anything else as built."""
        asked = urlsplit(self.path).path
        page = Path(self.translate_path(self.path))
        page = page / "index.html" if asked.endswith("/") else page
        if page.suffix != ".html" or not page.is_file():
            super().do_GET()
            return
        head, end, tail = page.read_bytes().rpartition(b"</body>")
        body = head + PROBE + end + tail if end else tail + PROBE
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
    """A page's links, images and element ids, and what the probe saw of its images."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []  # <a href>, and <link rel=prev/next> (the theme's footer)
        self.images: list[str] = []
        self.resources: list[str] = []  # stylesheets, scripts, fonts the page loads
        self.ids: set[str] = set()
        self.shown: list[dict[str, object]] | None = None  # the probe's finding; None: it never ran

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.add(str(named["id"]))
        if tag == "html" and named.get("data-test-images"):
            self.shown = json.loads(str(named["data-test-images"]))
        if tag == "a" and named.get("href"):
            self.links.append(str(named["href"]))
        if tag == "img" and named.get("src"):
            self.images.append(str(named["src"]))
        if tag == "script" and named.get("src"):
            self.resources.append(str(named["src"]))
        if tag == "link" and named.get("href") and named.get("rel") in ("prev", "next"):
            self.links.append(str(named["href"]))
        elif tag == "link" and named.get("href") and named.get("rel") != "canonical":
            self.resources.append(str(named["href"]))


def _parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _file(site: Site, path: str) -> Path:
    """The built file a site path names (a folder's index.html)."""
    local = site.root / unquote(path).lstrip("/")
    return local / "index.html" if path.endswith("/") or local.is_dir() else local


def _fetch(url: str) -> tuple[int, bytes]:
    """The status a browser would end on (redirects followed) and the body."""
    try:
        with urlopen(url, timeout=30) as answer:  # noqa: S310 - the test's own server
            return answer.status, answer.read()
    except HTTPError as error:
        return error.code, b""


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
    leaving = [h for h in outside if "squidfunk.github.io" not in h and "mkdocs.org" not in h]
    assert not leaving, f"{path}: links out of the site (it must read offline): {leaving}"
    loaded_outside = [r for r in page.resources if urlsplit(urljoin(here, r)).netloc != urlsplit(site.url).netloc]
    assert not loaded_outside, f"{path}: loads from elsewhere (it must work offline): {loaded_outside}"
    asked = {p for p, code in site.requests if code == 200}
    served: dict[str, tuple[int, bytes]] = {}
    for target in sorted({urljoin(here, h) for h in page.links if h not in outside}):
        parts = urlsplit(target)
        if parts.path not in served:
            served[parts.path] = _fetch(target.split("#")[0])
        status, body = served[parts.path]
        assert status == 200, f"{path}: a link to {target} leads to no page (HTTP {status})"
        if parts.fragment and b"<html" in body[:2000].lower():
            ids = _parsed(body.decode()).ids
            assert unquote(parts.fragment) in ids, f"{path}: no #{parts.fragment} in {parts.path}"
    assert page.shown is not None, f"{path}: the page's load event never came (an image or script still loading?)"
    broken = [image["src"] for image in page.shown if not image["complete"] or not image["width"]]
    assert not broken, f"{path}: images the browser could not draw: {broken}"
    assert sorted(str(image["src"]) for image in page.shown) == sorted(page.images), (page.shown, page.images)
    for src in page.images:
        image = urlsplit(urljoin(here, src)).path
        assert image in asked, f"{path}: the browser did not load the image {src}"
        if not image.endswith(".svg"):
            try:
                with Image.open(_file(site, image)) as raster:
                    raster.load()  # every row: a PNG cut short is drawn in part by the browser
            except OSError as error:
                raise AssertionError(f"{path}: {src} does not decode whole: {error}") from error


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
    """The checks above can fail: a page with a link to nowhere, one whose image is gone, one whose
    image is served but is no image, one whose image is cut short, one that loads from elsewhere."""
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
    footer = "<html><head><link rel='next' href='../nowhere/'></head><body></body></html>"  # the theme's "Next"
    with pytest.raises(AssertionError, match="nowhere/ leads to no page"):
        _check_links_and_images(site, "/broken/", _parsed(footer))
    # served (200), but the browser cannot draw it; and a PNG cut short, which it draws in part
    history = (site.root / "benchmarks" / "history.png").read_bytes()
    (broken / "junk.png").write_bytes(history[:8] + bytes(200))
    (broken / "cut.png").write_bytes(history[: len(history) // 2])
    for image, caught in (("junk.png", r"could not draw: \['junk.png'\]"), ("cut.png", "cut.png does not decode whole")):
        icon = "<link rel='icon' href='../assets/images/favicon.png'>"  # else Chromium asks for /favicon.ico
        (broken / "index.html").write_text(f"<html><head>{icon}</head><body><p>x</p><img src='{image}'></body></html>")
        page, _ = _open(site, "/broken/", chromium, tmp_path)
        with pytest.raises(AssertionError, match=caught):
            _check_links_and_images(site, "/broken/", page)
    fonts = "<html><head><link rel='stylesheet' href='https://fonts.example/css'></head><body></body></html>"
    with pytest.raises(AssertionError, match="loads from elsewhere"):
        _check_links_and_images(site, "/broken/", _parsed(fonts))
