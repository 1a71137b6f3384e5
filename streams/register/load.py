"""Reading a model trained elsewhere from its file: what it is, what loading it cost in trust,
and what it says about itself (the features it expects, the library versions it was saved with).

- ``.skops``: loaded by skops, which runs no code and names any type it does not trust; those
  are refused unless the operator names them (``--trust``). The safe way, so the preferred one.
- ``.joblib``, ``.pkl``, ``.pickle``: a pickle is code. Loading one runs it (:attr:`Loaded.ran_code`).
- an MLflow model directory: its ``MLmodel`` file's scikit-learn flavour names the model file and
  its format (skops, pickle or cloudpickle), the scikit-learn and Python versions it was saved
  with, and its signature the input columns. Read from disk: no MLflow server, no MLflow package.

Anything else, or a file that does not load as a model, is a :class:`~streams.errors.UsageError`
with one line saying why.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.errors import UsageError
from streams.experiments.record import file_sha256

PICKLES = (".joblib", ".pkl", ".pickle")
FORMATS = ".skops, .joblib, .pkl / .pickle, or an MLflow model directory"


@dataclass(frozen=True)
class Loaded:
    """A model as its file gave it."""

    model: Any
    form: str  # "skops", "joblib" (joblib or pickle), "mlflow (skops)", "mlflow (pickle)"
    file: str  # the file's name (for a directory: the directory's name)
    sha256: str  # of the model file's bytes
    ran_code: bool  # loading it ran code from the file (a pickle)
    #: library versions it names as saved with, e.g. {"scikit-learn": "1.5.2", "python": "3.11.7"}
    saved_with: dict[str, str] = field(default_factory=dict)
    #: input column names its file declares (an MLflow signature), in order; () when it declares none
    columns: tuple[str, ...] = ()


def load(path: Path, trusted: Sequence[str] = ()) -> Loaded:
    """The model in ``path`` (a file, or an MLflow model directory)."""
    if path.is_dir():
        return _mlflow(path, trusted)
    if not path.is_file():
        raise UsageError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        model, saved = _skops(path, trusted)
        return Loaded(model, "skops", path.name, file_sha256(path), False, saved)
    if suffix in PICKLES:
        model, saved = _pickle(path)
        return Loaded(model, "joblib", path.name, file_sha256(path), True, saved)
    raise UsageError(f"{path}: not a model file driftline reads (it reads {FORMATS})")


def _saved_versions(caught: list[warnings.WarningMessage]) -> dict[str, str]:
    """The scikit-learn version a loaded estimator says it was pickled with, from the warning
    scikit-learn gives when it differs from this one's."""
    from sklearn.exceptions import InconsistentVersionWarning

    for w in caught:
        if isinstance(w.message, InconsistentVersionWarning):
            return {"scikit-learn": str(w.message.original_sklearn_version)}
    return {}


def _skops(path: Path, trusted: Sequence[str]) -> tuple[Any, dict[str, str]]:
    import zipfile

    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a .skops file ({type(exc).__name__}: {exc})") from None
    unnamed = [t for t in untrusted if t not in trusted]
    if unnamed:
        flags = " ".join(f"--trust {t}" for t in unnamed)
        raise UsageError(f"{path} holds types skops does not trust: {', '.join(unnamed)}; "
                         f"if you trust them, register it with {flags}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = sio.load(path, trusted=list(untrusted))
        except Exception as exc:  # noqa: BLE001 - skops raises many kinds; each is one line here
            raise UsageError(f"{path}: skops could not load it ({type(exc).__name__}: {exc})") from None
    return model, _saved_versions(caught)


def _pickle(path: Path) -> tuple[Any, dict[str, str]]:
    import joblib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - unpickling raises anything its code raises
            raise UsageError(f"{path}: not a model: it does not unpickle ({type(exc).__name__}: {exc})") from None
    return model, _saved_versions(caught)


def _mlflow(path: Path, trusted: Sequence[str]) -> Loaded:
    import yaml

    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise UsageError(f"{path}: a directory, and not an MLflow model directory (no MLmodel file); driftline reads {FORMATS}")
    try:
        meta = yaml.safe_load(mlmodel.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"{mlmodel}: not YAML ({exc})".replace("\n", " ")) from None
    flavors = (meta or {}).get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict):
        raise UsageError(f"{mlmodel}: names no flavors: not an MLflow model")
    flavor = flavors.get("sklearn")
    if not isinstance(flavor, dict):
        raise UsageError(f"{path}: an MLflow model without the scikit-learn flavour (it has: {', '.join(flavors) or 'none'}); "
                         "driftline reads MLflow's sklearn flavour")
    file = path / str(flavor.get("pickled_model") or "model.pkl")
    if not file.is_file():
        raise UsageError(f"{path}: its MLmodel names {file.name}, which is not there")
    form = str(flavor.get("serialization_format") or "pickle")
    if form == "skops":
        model, saved = _skops(file, [*trusted, *(flavor.get("skops_trusted_types") or [])])
        ran_code = False
    elif form in ("pickle", "cloudpickle"):
        model, saved = _pickle(file)
        ran_code = True
    else:
        raise UsageError(f"{path}: an MLflow sklearn model in the {form!r} format, which driftline does not read")
    if flavor.get("sklearn_version"):
        saved = {**saved, "scikit-learn": str(flavor["sklearn_version"])}
    python = ((flavors.get("python_function") or {}).get("python_version"))
    if python:
        saved = {**saved, "python": str(python)}
    return Loaded(model, f"mlflow ({form})", path.name, file_sha256(file), ran_code, saved, _signature_columns(meta))


def _signature_columns(meta: dict[str, Any]) -> tuple[str, ...]:
    """The input column names of an MLflow model's signature (a column-based one), in order."""
    inputs = (meta.get("signature") or {}).get("inputs")
    try:
        columns = json.loads(inputs) if isinstance(inputs, str) else []
    except json.JSONDecodeError:
        return ()
    return tuple(str(c["name"]) for c in columns if isinstance(c, dict) and c.get("name"))
