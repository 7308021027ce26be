"""Numeric ids from URLs and query strings, bounded to what a database key can hold.

An id like 99999999999999999999 matches `<int:pk>` and `str.isdigit()`, and "³" passes
`isdigit()` too; the first overflows SQLite's 64-bit integers (a 500 where it meets a join or a
foreign key), the second makes int() raise. Paths use the `id` converter registered here
(ASCII digits up to 2**63 - 1, otherwise the URL does not match: 404), and query-string and
form values go through `parse_id` or `IdField`.
"""

from __future__ import annotations

import re

from django import forms
from django.db import models

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value: object) -> int | None:
    """The id written in `value` (ASCII digits, 1 to 2**63 - 1), or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value.strip()):
        return None
    number = int(value.strip())
    return number if 1 <= number <= MAX_ID else None


class IdConverter:
    """Path converter `<id:pk>`: like `<int:pk>`, but an id no database holds does not match."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(f"{value} is larger than any id")
        return number

    def to_url(self, value: int | str) -> str:
        return str(int(value))


def register() -> None:
    from django.urls import register_converter
    from django.urls.converters import get_converters

    if "id" not in get_converters():
        register_converter(IdConverter, "id")


class IdField(forms.IntegerField):
    """A form field for an id: a whole number from 1 to 2**63 - 1."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _picks_by_id(field: forms.ModelChoiceField) -> bool:
    """Whether the field's choices are picked by an id: their own, or another model's that
    `to_field_name` names through a foreign key (a result picked by its "job_id")."""
    if field.to_field_name is None:
        return True
    model_field = field.queryset.model._meta.get_field(field.to_field_name)
    target = getattr(model_field, "target_field", None)
    return (
        (model_field.many_to_one or model_field.one_to_one)
        and isinstance(target, models.IntegerField)
        and target.primary_key
    )


def _refuse_past_ids(field: forms.ModelChoiceField, value: object) -> None:
    """invalid_choice for a whole number no database id can be (0, negative, past 64 bits).

    Django would send it to the database as it is, and SQLite cannot compare integers past
    64 bits (OverflowError: a 500). Other text is left to Django's own messages.
    """
    if isinstance(value, bool) or not _picks_by_id(field):
        return
    text = str(value).strip() if isinstance(value, int | str) else ""
    if _WHOLE_NUMBER.fullmatch(text) and parse_id(text) is None:
        raise forms.ValidationError(
            field.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
        )


class IdModelChoiceField(forms.ModelChoiceField):
    """ModelChoiceField whose choices are picked by id: an id no database holds is an
    invalid choice, never a query."""

    def to_python(self, value):
        if value not in self.empty_values:
            _refuse_past_ids(self, value)
        return super().to_python(value)


class IdModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """ModelMultipleChoiceField whose choices are picked by id (see IdModelChoiceField)."""

    def _check_values(self, value):
        if isinstance(value, list | tuple):
            for pk in value:
                _refuse_past_ids(self, pk)
        return super()._check_values(value)
