"""Reading a pipeline spec: a TOML file, or the built-in demo pipeline."""

from __future__ import annotations

from pathlib import Path

from streams.core.spec import PipelineSpec, SpecError, parse_spec

DEFAULT_SPEC_PATH = Path(__file__).with_name("demo_pipeline.toml")


def load_spec(path: str | Path | None) -> PipelineSpec:
    """Load the spec at ``path``, or the built-in demo pipeline when ``path`` is empty."""
    if not path:
        return parse_spec(DEFAULT_SPEC_PATH.read_text())
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError(f"cannot read the pipeline spec {path}: {exc.strerror}") from None
    try:
        return parse_spec(text)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
