"""Writes the reference pages into the site as `make docs` builds it (mkdocs-gen-files): they are
generated from the code (streams/reference.py), never edited by hand."""

import mkdocs_gen_files

from streams.reference import cli_page, metrics_page, settings_page

with mkdocs_gen_files.open("reference/settings.md", "w") as page:
    page.write(settings_page())

with mkdocs_gen_files.open("reference/metrics.md", "w") as page:
    page.write(metrics_page())

with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    page.write(cli_page())
