"""Reading a model trained elsewhere and checking it against the pipeline, without a broker:
every format, and each refusal as one line."""

from __future__ import annotations

import itertools
import operator
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from river import tree
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from streams.core.external import Frozen, SklearnModel
from streams.core.features import featurize_all
from streams.core.trainer import Trainer
from streams.errors import UsageError
from streams.experiments.record import file_sha256
from streams.kafka.sources import builtin
from streams.register.check import Options, prepare, try_on
from streams.register.load import load
from streams.specs.load import load_spec

SPEC = load_spec(None)
EXAMPLES = featurize_all(SPEC, itertools.islice(builtin("agrawal-drift", seed=3, drift_at=10**9), 1_500))
SAMPLES = [(f"features partition 0 offset {i}", x) for i, (x, _) in enumerate(EXAMPLES[1_000:1_100])]


def frame(rows: list[tuple[dict, object]]) -> tuple[pd.DataFrame, list]:  # type: ignore[type-arg]
    return pd.DataFrame([x for x, _ in rows]), [y for _, y in rows]


def fitted_pipeline() -> object:
    X, y = frame(EXAMPLES[:1_000])
    return make_pipeline(StandardScaler(), DecisionTreeClassifier(min_samples_leaf=5, random_state=0)).fit(X, y)


def shifted(x: dict) -> dict:  # type: ignore[type-arg]
    return {k: (v * 1.0001 if isinstance(v, float) else v) for k, v in x.items()}


def test_a_joblib_pipeline_serves_as_it_predicts_in_the_notebook(tmp_path: Path) -> None:
    model = fitted_pipeline()
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = load(path)
    assert (loaded.form, loaded.ran_code, loaded.sha256, loaded.file) == ("joblib", True, file_sha256(path), "model.joblib")
    prepared = prepare(loaded, SPEC)
    assert prepared.expects == SPEC.feature_names and prepared.library == "scikit-learn" and not prepared.learns
    X, _ = frame(EXAMPLES[1_000:1_300])
    expected = model.predict(X).tolist()  # type: ignore[attr-defined]
    assert [prepared.model.predict_one(x) for x, _ in EXAMPLES[1_000:1_300]] == expected
    counted = try_on(prepared, SAMPLES, classifier=True)
    assert sum(counted.values()) == len(SAMPLES) and set(counted) <= {True, False}
    # the sample showed array rows give what frames give: it is scored without a frame per event now
    assert prepared.model.frame is False
    assert [prepared.model.predict_one(x) for x, _ in EXAMPLES[1_000:1_300]] == expected


def test_a_model_that_selects_columns_by_name_keeps_its_frames() -> None:
    from sklearn.compose import ColumnTransformer

    X, y = frame(EXAMPLES[:500])
    X = X[["salary", "age", "loan"]]  # fitted on three of the features, selected by name
    picks = ColumnTransformer([("scaled", StandardScaler(), ["age", "salary"])])
    model = make_pipeline(picks, DecisionTreeClassifier(random_state=0)).fit(X, y)
    prepared = prepare(_as_loaded(model), SPEC)
    try_on(prepared, SAMPLES, classifier=True)
    assert prepared.model.frame is True
    assert [prepared.model.predict_one(x) for x, _ in EXAMPLES[1_000:1_100]] == model.predict(frame(EXAMPLES[1_000:1_100])[0][["salary", "age", "loan"]]).tolist()


def test_a_skops_file_loads_without_code_and_names_the_types_it_does_not_trust(tmp_path: Path) -> None:
    X, y = frame(EXAMPLES[:500])
    plain = tmp_path / "plain.skops"
    sio.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), plain)
    loaded = load(plain)
    assert (loaded.form, loaded.ran_code) == ("skops", False)
    assert prepare(loaded, SPEC).expects == SPEC.feature_names

    odd = tmp_path / "odd.skops"
    sio.dump(make_pipeline(FunctionTransformer(operator.neg), StandardScaler(), LogisticRegression()).fit(X, y), odd)
    untrusted = sio.get_untrusted_types(file=odd)
    assert untrusted == ["_operator.neg"]  # a function skops does not trust by default
    with pytest.raises(UsageError) as refused:
        load(odd)
    assert "does not trust" in str(refused.value) and f"--trust {untrusted[0]}" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert load(odd, trusted=untrusted).form == "skops"


def test_an_mlflow_directory_is_read_from_its_mlmodel_file(tmp_path: Path) -> None:
    """MLflow's documented layout, written by hand (the integration test writes one with mlflow)."""
    model = fitted_pipeline()
    directory = tmp_path / "mlflow-model"
    directory.mkdir()
    sio.dump(model, directory / "model.skops")
    columns = ", ".join(f'{{"type": "double", "name": "{n}", "required": true}}' for n in SPEC.feature_names)
    (directory / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.skops\n"
        "    python_version: 3.11.4\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n"
        "    sklearn_version: 1.4.0\n    skops_trusted_types:\n    - sklearn.tree._tree.Tree\n"
        f"signature:\n  inputs: '[{columns}]'\n")
    loaded = load(directory)
    assert (loaded.form, loaded.ran_code, loaded.file) == ("mlflow (skops)", False, "mlflow-model")
    assert loaded.sha256 == file_sha256(directory / "model.skops")
    assert loaded.saved_with == {"scikit-learn": "1.4.0", "python": "3.11.4"}
    assert loaded.columns == SPEC.feature_names

    (directory / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n")
    with pytest.raises(UsageError, match="without the scikit-learn flavour"):
        load(directory)
    (directory / "MLmodel").unlink()
    with pytest.raises(UsageError, match="not an MLflow model directory"):
        load(directory)


@pytest.mark.parametrize("name,content,reason", [
    ("notes.txt", b"hello", "not a model file driftline reads"),
    ("garbage.joblib", b"\x00\x01 not a pickle", "does not unpickle"),
    ("fake.skops", b"not a zip", "not a .skops file"),
])
def test_a_file_that_is_not_a_model_is_refused_in_one_line(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError) as refused:
        load(path)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def test_a_pickle_that_holds_no_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(UsageError, match="holds a builtins.dict, not a model"):
        prepare(load(path), SPEC)


def test_features_the_spec_does_not_produce_are_named() -> None:
    X, y = frame(EXAMPLES[:300])
    X = X.rename(columns={"salary": "income", "loan": "loan_amount"})
    model = DecisionTreeClassifier().fit(X, y)
    with pytest.raises(UsageError) as refused:
        prepare(_as_loaded(model), SPEC)
    message = str(refused.value)
    assert "expects features the spec does not produce: income, loan_amount" in message
    assert "the spec produces: salary" in message


def test_a_model_fitted_on_an_array_needs_its_features_named() -> None:
    X, y = frame(EXAMPLES[:300])
    names = ("age", "salary")
    model = DecisionTreeClassifier(random_state=0).fit(X[list(names)].to_numpy(), y)
    with pytest.raises(UsageError, match="does not name the features it expects"):
        prepare(_as_loaded(model), SPEC)
    with pytest.raises(UsageError, match="fitted on 2 columns, and 1 features are named"):
        prepare(_as_loaded(model), SPEC, Options(features=("age",)))
    prepared = prepare(_as_loaded(model), SPEC, Options(features=names))
    x = EXAMPLES[400][0]
    assert prepared.model.predict_one(x) == model.predict(np.array([[x["age"], x["salary"]]]))[0]


def test_a_model_that_raises_on_the_stream_is_refused_naming_the_record() -> None:
    X, y = frame(EXAMPLES[:300])
    X["elevel"] = 0  # one category seen: the stream's elevel 1..4 are unknown to the encoder
    model = make_pipeline(OneHotEncoder(handle_unknown="error"), LogisticRegression()).fit(X[["elevel"]], y)
    prepared = prepare(_as_loaded(model), SPEC)
    with pytest.raises(UsageError) as refused:
        try_on(prepared, SAMPLES, classifier=True)
    assert "the model raised on the feature record at features partition 0 offset" in str(refused.value)
    assert "ValueError" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(UsageError, match="no feature records to check the model on"):
        try_on(prepared, [], classifier=True)


def test_the_wrong_task_and_an_unfitted_model_are_refused() -> None:
    from sklearn.linear_model import LinearRegression

    X, y = frame(EXAMPLES[:300])
    with pytest.raises(UsageError, match="scikit-learn regressor .* the pipeline's task is binary"):
        prepare(_as_loaded(LinearRegression().fit(X, [float(v) for v in y])), SPEC)
    with pytest.raises(UsageError, match="never fitted"):
        prepare(_as_loaded(DecisionTreeClassifier()), SPEC)
    with pytest.raises(UsageError, match="--learn is for River models"):
        prepare(_as_loaded(fitted_pipeline()), SPEC, Options(learn=True))


def test_a_river_model_is_frozen_unless_it_may_learn() -> None:
    model = tree.HoeffdingTreeClassifier()
    for x, y in EXAMPLES[:500]:
        model.learn_one(x, y)
    frozen = prepare(_as_loaded(model), SPEC)
    assert isinstance(frozen.model, Frozen) and not frozen.learns
    before = [frozen.model.predict_proba_one(x) for x, _ in EXAMPLES[500:700]]
    for x, y in EXAMPLES[500:1_500]:
        frozen.model.learn_one(shifted(x), not y)
    assert [frozen.model.predict_proba_one(x) for x, _ in EXAMPLES[500:700]] == before
    learning = prepare(_as_loaded(model), SPEC, Options(learn=True))
    assert learning.model is model and learning.learns


def test_a_refit_policy_refits_a_clone_on_the_last_window() -> None:
    X, y = frame(EXAMPLES[:200])
    original = DecisionTreeClassifier(random_state=0).fit(X, y)
    prepared = prepare(_as_loaded(original), SPEC, Options(refit_every=100, window=300))
    m: SklearnModel = prepared.model
    for x, label in EXAMPLES[200:500]:
        m.learn_one(x, not label)  # the concept turned over
    assert m.estimator is not original and m.examples == 300
    later = EXAMPLES[1_000:1_200]
    agree = sum(m.predict_one(x) == (not label) for x, label in later) / len(later)
    assert agree > 0.8


def test_the_trainer_judges_a_registered_challenger_at_its_gate() -> None:
    """The gate takes a registered model as a challenger of its own: promoted when it leads."""
    trainer = Trainer(SPEC)
    for i, (x, y) in enumerate(EXAMPLES[:300]):
        trainer.learn(_example(i, x, y))
    trainer.published("champion", 1)
    X, y = frame(EXAMPLES[:1_000])  # fitted on an array, its columns named: one row per event costs less than a frame
    tree = DecisionTreeClassifier(min_samples_leaf=5, random_state=0).fit(X[list(SPEC.feature_names)].to_numpy(), y)
    prepared = prepare(_as_loaded(tree), SPEC, Options(features=SPEC.feature_names))
    trainer.adopt_challenger(2, prepared.model, "from the notebook")
    changes = []
    for i, (x, y) in enumerate(EXAMPLES[300:1_500], 300):
        changes += [r for r in trainer.learn(_example(i, x, y))[1] if getattr(r, "version", None) == 2]
    assert [(c.status, c.alert) for c in changes] == [("champion", "model_promoted")]
    assert "won the promotion gate" in changes[0].reason
    assert trainer.champion.model is prepared.model and trainer.champion.version == 2


def _example(i: int, x: dict, y: object):  # type: ignore[no-untyped-def,type-arg]
    from streams.core.example import Example

    return Example(f"e-{i}", x, y, 1_700_000_000.0 + i)


def _as_loaded(model: object):  # type: ignore[no-untyped-def]
    from streams.register.load import Loaded

    return Loaded(model, "joblib", "model.joblib", "0" * 64, True)
