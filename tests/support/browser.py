"""Pages in Debian's headless Chromium, as a person's browser renders them: the DOM after the
page's own scripts ran, or a screenshot."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def browse(chromium: str, url: str, profile: Path, *extra: str) -> str:
    """Run headless Chromium on the page for a few seconds of the page's own (virtual) time (a
    page that polls its JSON once a second has rendered several rounds by then); its stdout
    (the DOM, with ``--dump-dom``)."""
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--hide-scrollbars", f"--user-data-dir={profile}", "--virtual-time-budget=6000", *extra, url],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def visible_text(dom: str) -> str:
    """A page's text as read, tags and images gone, white space folded.

    >>> visible_text("<head><style>p {}</style></head><body><p>a <b>b</b></p><img src='x'></body>")
    'a b'
    """
    body = dom.split("</head>", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", "", body))).strip()
