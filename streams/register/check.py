"""A loaded model made ready to serve the stream, and checked against it before it is registered.

:func:`prepare` wraps what a file held in River's one-example interface (a scikit-learn model in
:class:`~streams.core.external.SklearnModel`; a River model that is not to learn in
:class:`~streams.core.external.Frozen`) and refuses what cannot serve this pipeline: not a
model, not fitted, the wrong task, features the spec does not produce. :func:`try_on` has it
predict on recent feature records and refuses a model that raises. Each refusal is one line
(:class:`~streams.errors.UsageError`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streams.core.external import Frozen, SklearnModel
from streams.core.spec import PipelineSpec
from streams.errors import UsageError
from streams.register.load import Loaded


@dataclass(frozen=True)
class Prepared:
    """What is registered: the model in River's interface, and what it is."""

    model: Any
    library: str  # "scikit-learn" or "river"
    #: the features it reads, in order ((): a River model reads the dict it is given)
    expects: tuple[str, ...]
    learns: bool  # learns from the stream's labels (a River model with --learn, a refit policy)


@dataclass(frozen=True)
class Options:
    """How a registered model is to serve: ``features`` names an array-fitted model's columns."""

    features: tuple[str, ...] = ()
    learn: bool = False
    refit_every: int = 0
    window: int = 1000


def _classifier_task(spec: PipelineSpec) -> bool:
    return spec.task in ("binary", "multiclass")


def prepare(loaded: Loaded, spec: PipelineSpec, options: Options = Options()) -> Prepared:
    from river import base

    model, what = loaded.model, loaded.file
    if isinstance(model, base.Estimator):
        return _river(model, what, spec, options)
    if callable(getattr(model, "predict", None)) and callable(getattr(model, "fit", None)):
        return _sklearn(model, what, loaded.columns, spec, options)
    raise UsageError(f"{what} holds a {type(model).__module__}.{type(model).__qualname__}, not a model (no fit and predict)")


def _river(model: Any, what: str, spec: PipelineSpec, options: Options) -> Prepared:
    from river import base

    from streams.core.model import is_classifier

    if options.refit_every:
        raise UsageError("--refit-every is for scikit-learn models; a River model learns online with --learn")
    classifier = is_classifier(model)
    if classifier != _classifier_task(spec) or not (classifier or isinstance(model, base.Regressor) or _is_regressor_pipeline(model)):
        raise UsageError(f"{what} holds a River {type(model).__name__}, and the pipeline's task is {spec.task}")
    return Prepared(model if options.learn else Frozen(model), "river", (), options.learn)


def _is_regressor_pipeline(model: Any) -> bool:
    from river import base, compose

    return isinstance(model, compose.Pipeline) and isinstance(list(model.steps.values())[-1], base.Regressor)


def _sklearn(model: Any, what: str, columns: Sequence[str], spec: PipelineSpec, options: Options) -> Prepared:
    from sklearn.base import is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if options.learn:
        raise UsageError("--learn is for River models; a scikit-learn model is refitted on recent labels with --refit-every N")
    classifier = is_classifier(model)
    if classifier != _classifier_task(spec) or not (classifier or is_regressor(model)):
        kind = "classifier" if classifier else "regressor" if is_regressor(model) else "model of neither kind"
        raise UsageError(f"{what} holds a scikit-learn {kind} ({type(model).__name__}), and the pipeline's task is {spec.task}")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise UsageError(f"{what} holds a {type(model).__name__} that was never fitted") from None
    named = getattr(model, "feature_names_in_", None)
    if named is not None:
        expects, frame = tuple(str(n) for n in named), True
        if options.features and tuple(options.features) != expects:
            raise UsageError(f"--features names {', '.join(options.features)}, and {what} was fitted on the columns {', '.join(expects)}")
    elif options.features or columns:
        expects, frame = tuple(options.features or columns), False
    else:
        raise UsageError(f"{what} does not name the features it expects (it was fitted on an array, not a DataFrame): "
                         "give them in its column order with --features a,b,c")
    width = getattr(model, "n_features_in_", None)
    if width is not None and width != len(expects):
        raise UsageError(f"{what} was fitted on {width} columns, and {len(expects)} features are named: {', '.join(expects)}")
    missing = [f for f in expects if f not in spec.feature_names]
    if missing:
        raise UsageError(f"{what} expects features the spec does not produce: {', '.join(missing)} "
                         f"(the spec produces: {', '.join(spec.feature_names)})")
    wrapped = SklearnModel(model, features=expects, classifier=classifier, frame=frame,
                           refit_every=options.refit_every, window=options.window)
    return Prepared(wrapped, "scikit-learn", expects, bool(options.refit_every))


def try_on(prepared: Prepared, samples: Sequence[tuple[str, dict[str, Any]]], classifier: bool) -> Counter[Any]:
    """Have the model predict on each ``(where, features)`` sample; the predictions counted.
    A model that raises on one is refused, naming the record."""
    from streams.core.model import score

    if not samples:
        raise UsageError("there are no feature records to check the model on: run the pipeline on some events first")
    predicted: Counter[Any] = Counter()
    for where, x in samples:
        try:
            out = score(prepared.model, dict(x), classifier)
        except Exception as exc:  # noqa: BLE001 - the model's own code: whatever it raises is the reason
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise UsageError(f"the model raised on the feature record at {where}: {type(exc).__name__}: {detail}") from None
        predicted[out.prediction] += 1
    if isinstance(prepared.model, SklearnModel):
        prepared.model.prefer_arrays([dict(x) for _, x in samples])
    return predicted


def version_warnings(saved_with: dict[str, str], running: dict[str, str]) -> list[str]:
    """One line for each library the model was saved with at another version than this one's.

    >>> version_warnings({"scikit-learn": "1.5.2", "python": "3.11.7"}, {"scikit-learn": "1.6.0", "python": "3.11.7"})
    ['saved with scikit-learn 1.5.2, and the worker runs 1.6.0: its predictions may differ']
    """
    return [f"saved with {name} {version}, and the worker runs {running[name]}: its predictions may differ"
            for name, version in sorted(saved_with.items()) if name in running and running[name] != version]
