import pytest

from schemas import FieldSpec, Reason, check_fields

SPECS = [
    FieldSpec(name="amount", type="number", min=0, max=100),
    FieldSpec(name="items", type="integer", required=False),
    FieldSpec(name="country", type="category", categories=frozenset({"FR", "DE"}), unseen="deadletter"),
    FieldSpec(name="channel", type="category", categories=frozenset({"web"}), required=False),
    FieldSpec(name="vip", type="boolean", required=False),
    FieldSpec(name="note", type="text", required=False),
]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"amount": 1, "country": "FR"}, None),
        ({"amount": 1, "country": "FR", "items": 3.0, "channel": "app", "vip": False, "note": "hi"}, None),
        ({"country": "FR"}, Reason.MISSING_FIELD),
        ({"amount": None, "country": "FR"}, Reason.MISSING_FIELD),
        ({"amount": "1", "country": "FR"}, Reason.WRONG_TYPE),
        ({"amount": True, "country": "FR"}, Reason.WRONG_TYPE),
        ({"amount": 1, "country": "FR", "items": 2.5}, Reason.WRONG_TYPE),
        ({"amount": 1, "country": "FR", "vip": 1}, Reason.WRONG_TYPE),
        ({"amount": 1, "country": "FR", "note": 5}, Reason.WRONG_TYPE),
        ({"amount": -0.1, "country": "FR"}, Reason.OUT_OF_RANGE),
        ({"amount": 100.5, "country": "FR"}, Reason.OUT_OF_RANGE),
        ({"amount": 1, "country": "IT"}, Reason.UNKNOWN_CATEGORY),
    ],
)
def test_data_is_checked_against_the_declared_fields(data: dict, reason: Reason | None) -> None:  # type: ignore[type-arg]
    problem = check_fields(data, SPECS)
    assert (problem[0] if problem else None) is reason
    if problem:
        assert problem[1]


def test_an_unknown_field_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        FieldSpec(name="x", type="float")  # type: ignore[arg-type]
