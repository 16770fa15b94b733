"""The date range of a usage report, from a form, a URL or the command line."""

from datetime import date, timedelta

from django.utils import timezone

from console.validation import FieldError, InvalidInput, shown

# The metering service aggregates per day; a year is plenty for one report.
MAX_DAYS = 366
DEFAULT_DAYS = 30


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_DAYS days, today included (what the worker keeps fresh)."""
    today = today or timezone.now().date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def parse_day(value: str | None, field: str) -> date:
    text = (value or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            FieldError(
                field,
                f"{field} {shown(text)} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-31.",
            )
        ) from None


def parse_range(from_text: str | None, to_text: str | None) -> tuple[date, date]:
    """(from, to) from two YYYY-MM-DD texts; InvalidInput naming the field and the value."""
    errors: list[FieldError] = []
    days: dict[str, date] = {}
    for field, text in (("from", from_text), ("to", to_text)):
        try:
            days[field] = parse_day(text, field)
        except InvalidInput as exc:
            errors += exc.errors
    if errors:
        raise InvalidInput(errors)
    first, last = days["from"], days["to"]
    if last < first:
        raise InvalidInput(
            FieldError("to", f"to {shown(last.isoformat())} is before from {first}; swap them.")
        )
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(
            FieldError(
                "to",
                f"to {shown(last.isoformat())} is {(last - first).days + 1} days after from "
                f"{first}; ask for at most {MAX_DAYS} days at a time.",
            )
        )
    return first, last
