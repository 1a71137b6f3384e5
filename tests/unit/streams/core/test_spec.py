import pytest

from streams.core.spec import SpecError, parse_spec
from streams.specs.load import load_spec

MINIMAL = """
[pipeline]
task = "binary"

[[fields]]
name = "amount"
type = "number"
"""


def test_the_builtin_spec_parses() -> None:
    spec = load_spec(None)
    assert spec.task == "binary" and len(spec.fields) == 9 and spec.drift


def test_a_minimal_spec_gets_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.passthrough == ("amount",)
    assert spec.training.metric == "accuracy"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[pipeline\n", "line 1"),
        (MINIMAL.replace('"binary"', '"ranking"'), "line 3: task must be one of"),
        (MINIMAL.replace('"number"', '"decimal"'), "line 7: field 'amount': type must be one of"),
        (MINIMAL + '\n[model]\nestimator = "river.linear_model.Nope"\n', "line 10: [model] estimator: cannot import"),
        (MINIMAL + '\n[model]\nestimator = "os.system"\n', "line 10: [model] estimator: 'os.system' is not allowed"),
        (MINIMAL + '\n[model]\nestimator = "subprocess.Popen"\n', "line 10: [model] estimator: 'subprocess.Popen' is not allowed"),
        (MINIMAL + '\n[model]\nestimator = "river.linear_model.__builtins__"\n', "is not allowed"),
        (MINIMAL + '\n[model]\nestimator = "river.__import__(\'os\')"\n', "is not a dotted name"),
        (MINIMAL + '\n[model]\nestimator = "river.utils.math.sigmoid"\n', "is not a class"),
        (MINIMAL + '\n[model]\nestimator = "river.stats.Mean"\n', "'river.stats.Mean' is not an estimator (it has no learn_one or predict_one)"),
        (MINIMAL + '\n[training]\nsklearn_estimator = "builtins.eval"\n', "[training] sklearn_estimator: 'builtins.eval' is not allowed"),
        (MINIMAL + '\n[features]\npassthrough = ["amount", "colour"]\n', "line 10: passthrough names unknown field 'colour'"),
        (MINIMAL + '\n[[drift]]\nsignal = "weather"\n', "line 10: drift signal must be one of"),
        (MINIMAL + '\n[training]\npublish_evry = 10\n', "line 10: unknown key 'publish_evry'"),
    ],
)
def test_a_bad_spec_is_refused_with_the_line_and_the_reason(text: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert message in str(err.value)


def test_a_missing_file_is_a_spec_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.toml")
