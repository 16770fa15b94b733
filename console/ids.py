"""Reading an id (or a page number) from a form or a query: ASCII digits that fit the database's
64-bit integers, else a default.

`int()` is not enough: `'²'.isdigit()` is true but `int('²')` raises, `int()` takes `' 1_0 '` and
Arabic-Indic digits, and a Python int past 2**63 - 1 makes SQLite raise OverflowError in any
query it reaches (PostgreSQL: "out of range"), a 500 either way.
"""

MAX_ID = 2**63 - 1


def parse_id(value, default: int | None = None) -> int | None:
    """The positive integer `value` writes, or `default` when it writes none that fits."""
    if not isinstance(value, str):
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return default
    number = int(text)
    return number if 0 < number <= MAX_ID else default
