"""The dead-letter reason codes of the contract: machine codes users can filter on."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a record was dead-lettered. The values are the contract's strings."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_CATEGORY = "unknown_category"
    OVERSIZED = "oversized"
    DUPLICATE_EVENT = "duplicate_event"
    UNKNOWN_EVENT = "unknown_event"
    DUPLICATE_LABEL = "duplicate_label"  # a second label for an event (joined, or a label waits)
    FEATURE_FAILED = "feature_failed"  # a plugin's feature function raised on the event
    LOOKUP_MISS = "lookup_miss"  # a lookup that dead-letters a miss found no reference record for the event
