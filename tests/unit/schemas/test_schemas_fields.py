"""check_fields: the first problem of raw data against declared fields."""

from __future__ import annotations

import pytest

from schemas import FieldSpec, Reason, check_fields

SPECS = [
    FieldSpec(name="amount", type="number", min=0, max=100),
    FieldSpec(name="items", type="integer", required=False, min=1),
    FieldSpec(name="country", type="category", categories=frozenset({"FR", "DE", "7"}), unseen="deadletter"),
    FieldSpec(name="channel", type="category", categories=frozenset({"web"}), required=False),
    FieldSpec(name="vip", type="boolean", required=False),
    FieldSpec(name="note", type="text", required=False),
]
OK = {"amount": 1, "country": "FR"}


@pytest.mark.parametrize("data", [
    OK,
    {**OK, "items": 3, "channel": "web", "vip": False, "note": "hi"},
    {**OK, "items": 3.0},  # an integral float is an integer
    {**OK, "amount": 0, "items": 1},  # bounds are inclusive
    {**OK, "amount": 100.0},
    {**OK, "country": 7},  # an integer category is read as its string
    {**OK, "channel": "app"},  # unseen categories allowed where the spec allows them
    {**OK, "items": None, "vip": None},  # null optional fields count as absent
    {**OK, "undeclared": [1, 2]},  # fields not declared are not checked
])
def test_data_that_fits_has_no_problem(data: dict[str, object]) -> None:
    assert check_fields(data, SPECS) is None


@pytest.mark.parametrize(("data", "reason", "detail"), [
    ({"country": "FR"}, Reason.MISSING_FIELD, "required field data.amount is missing"),
    ({"amount": None, "country": "FR"}, Reason.MISSING_FIELD, "data.amount"),
    ({"amount": 1}, Reason.MISSING_FIELD, "data.country"),
    ({**OK, "amount": "1"}, Reason.WRONG_TYPE, "amount must be a number, got string"),
    ({**OK, "amount": True}, Reason.WRONG_TYPE, "amount must be a number, got boolean"),
    ({**OK, "items": 2.5}, Reason.WRONG_TYPE, "items must be an integer, got 2.5"),
    ({**OK, "items": False}, Reason.WRONG_TYPE, "items must be an integer, got boolean"),
    ({**OK, "country": 1.5}, Reason.WRONG_TYPE, "country must be a category"),
    ({**OK, "country": True}, Reason.WRONG_TYPE, "got boolean"),
    ({**OK, "vip": 1}, Reason.WRONG_TYPE, "vip must be a boolean, got number"),
    ({**OK, "note": 5}, Reason.WRONG_TYPE, "note must be text, got number"),
    ({**OK, "amount": -0.1}, Reason.OUT_OF_RANGE, "amount must be >= 0, got -0.1"),
    ({**OK, "amount": 100.5}, Reason.OUT_OF_RANGE, "amount must be <= 100, got 100.5"),
    ({**OK, "amount": float("inf")}, Reason.OUT_OF_RANGE, "finite"),
    ({**OK, "items": 0}, Reason.OUT_OF_RANGE, "items must be >= 1, got 0"),
    ({**OK, "country": "IT"}, Reason.UNKNOWN_CATEGORY, "country='IT' is not one of the declared categories (7, DE, FR)"),
    ({**OK, "country": 8}, Reason.UNKNOWN_CATEGORY, "country=8"),
])
def test_each_problem_gets_its_reason_and_a_detail(data: dict[str, object], reason: Reason, detail: str) -> None:
    problem = check_fields(data, SPECS)
    assert problem is not None
    assert problem[0] is reason
    assert detail in problem[1]


def test_the_first_problem_in_spec_order_is_the_one_reported() -> None:
    problem = check_fields({"amount": "x", "country": "IT"}, SPECS)
    assert problem is not None and problem[0] is Reason.WRONG_TYPE
    problem = check_fields({"amount": 1, "country": "IT"}, list(reversed(SPECS)))
    assert problem is not None and problem[0] is Reason.UNKNOWN_CATEGORY


def test_a_category_without_declared_categories_takes_any_value() -> None:
    spec = FieldSpec(name="city", type="category", unseen="deadletter")
    assert check_fields({"city": "Lyon"}, [spec]) is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"type": "float"}, "unknown type"),
    ({"type": "number", "unseen": "drop"}, "unseen must be"),
    ({"type": "number", "min": 5, "max": 1}, "min 5 is above max 1"),
])
def test_a_bad_field_spec_is_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FieldSpec(name="x", **kwargs)  # type: ignore[arg-type]
