"""Writes the generated pages into the site as `make docs` builds it (mkdocs-gen-files): the
reference pages from the code (streams/reference.py) and the benchmarks page from `make bench`'s
results (benchmarks/page.py). Never edited by hand."""

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package, beside streams

from benchmarks import page as bench_page  # noqa: E402
from streams.reference import cli_page, metrics_page, schemas_page, settings_page, spec_page  # noqa: E402

for name, text in (("settings", settings_page()), ("metrics", metrics_page()), ("cli", cli_page()),
                   ("records", schemas_page()), ("spec", spec_page())):
    with mkdocs_gen_files.open(f"reference/{name}.md", "w") as out:
        out.write(text)

latest, history = bench_page.load()
with mkdocs_gen_files.open("benchmarks/index.md", "w") as out:
    out.write(bench_page.page(latest, history, bench_page.drift()))
if history:
    with mkdocs_gen_files.open(f"benchmarks/{bench_page.PLOT}", "wb") as image:
        image.write(bench_page.plot(history))
