"""Reading request fields the way the apiserver's schemas do: required, typed, no strangers.

Booleans and integers are also accepted as the strings the ClearML docs send
(`"internal":"true"`, `"allowed_users": "10"`).
"""

import re

from . import errors

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_RE = re.compile(
    rf"^(?=.{{1,253}}$)(?:{DOMAIN_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?$"
)


def check_keys(body: dict, *, allowed: set[str], required: set[str] = frozenset()) -> None:
    missing = sorted(k for k in required if body.get(k) in (None, ""))
    if missing:
        raise errors.missing_fields(missing)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise errors.invalid_fields(unknown)


def text(
    body: dict, name: str, *, required: bool = False, max_len: int = 1024, path: str = ""
) -> str | None:
    value = body.get(name)
    label = path or name
    if value is None:
        if required:
            raise errors.missing_fields([label])
        return None
    if not isinstance(value, str):
        raise errors.fields_type_error(f"{label} must be a string", **{label: value})
    value = value.strip()
    if required and not value:
        raise errors.missing_fields([label])
    if len(value) > max_len:
        raise errors.validation_error(f"{label} is longer than {max_len} characters")
    return value


def boolean(body: dict, name: str, *, default: bool, path: str = "") -> bool:
    value = body.get(name)
    label = path or name
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise errors.fields_type_error(f"{label} must be a boolean", **{label: value})


def positive_int(value, label: str) -> int:
    if isinstance(value, bool):
        raise errors.fields_type_error(f"{label} must be a positive integer", **{label: value})
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 1:
        raise errors.fields_type_error(f"{label} must be a positive integer", **{label: value})
    return value


def non_negative_int(body: dict, name: str, default: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.fields_type_error(f"{name} must be a non-negative integer", **{name: value})
    return value


def string_list(value, label: str, *, allow_empty: bool = True, single: bool = False) -> list[str]:
    """A list of non-empty strings, stripped, duplicates dropped (first spelling kept).
    With `single`, one string stands for a list of one (query filters)."""
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise errors.fields_type_error(f"{label} must be a list of strings", **{label: value})
    result: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise errors.fields_type_error(
                f"{label}[{index}] must be a non-empty string", **{f"{label}[{index}]": item}
            )
        item = item.strip()
        if item.casefold() not in seen:
            seen.add(item.casefold())
            result.append(item)
    if not result and not allow_empty:
        raise errors.batch_contains_no_items(label)
    return result


def optional_list(body: dict, name: str) -> list[str] | None:
    if body.get(name) is None:
        return None
    return string_list(body[name], name)


def email(value: str) -> str:
    """An email address, lower-cased; the sandbox compares and stores emails that way."""
    folded = value.strip().casefold()
    if not EMAIL_RE.match(folded) or len(folded) > 254:
        raise errors.invalid_email(value)
    return folded


def domain(value: str) -> str:
    """A bare domain name (`acme.io`), lower-cased: no `@`, no scheme, no wildcard."""
    folded = value.strip().casefold().rstrip(".")
    if not DOMAIN_RE.match(folded):
        raise errors.invalid_domain(value)
    return folded


def batch(body: dict, name: str, limit: int) -> list[str]:
    if name not in body or body[name] is None:
        raise errors.missing_fields([name])
    items = string_list(body[name], name, allow_empty=False)
    if len(items) > limit:
        raise errors.validation_error(
            f"too many {name}: {len(items)} in one call, at most {limit}",
            count=len(items),
            limit=limit,
        )
    return items


def project(record: dict, only_fields) -> dict:
    """`only_fields`: keep only these (top-level) fields; `id` is always kept."""
    if not only_fields:
        return record
    keep = {f.split(".", 1)[0] for f in only_fields} | {"id"}
    return {k: v for k, v in record.items() if k in keep}


def page(items: list, body: dict) -> list:
    number = non_negative_int(body, "page")
    size = body.get("page_size")
    if number is None and size is None:
        return items
    size = positive_int(size, "page_size") if size is not None else 500
    start = (number or 0) * size
    return items[start : start + size]
