"""`env:NAME`: a secret given by the name of an environment variable, read when it is used.

The one resolver: the SPEC, the identity-provider exports and the tenant SSO push all read
`env:NAME` values here, so a missing variable is reported the same way everywhere (the field,
the variable, and where to set it) and the value itself never appears in a message.
"""

import os
import re
from collections.abc import Mapping

from console.validation import FieldError, InvalidInput

ENV_REF = re.compile(r"^env:(.*)$", re.DOTALL)


def env_reference(value: object) -> str | None:
    """The NAME of an `env:NAME` value, else None."""
    if isinstance(value, str):
        match = ENV_REF.match(value.strip())
        if match:
            return match.group(1)
    return None


def resolve_secret(
    value: str,
    path: str,
    *,
    environ: Mapping[str, str] | None = None,
    where: str = "the process that uses it",
) -> str:
    """The value itself, or for `env:NAME` the variable's value; InvalidInput naming the field
    and the variable when it is unset or empty."""
    name = env_reference(value)
    if name is None:
        return value
    resolved = (os.environ if environ is None else environ).get(name)
    if resolved is None:
        raise InvalidInput(
            FieldError(path, f"env:{name} is not set: export {name} in the environment of {where}")
        )
    if not resolved.strip():
        raise InvalidInput(
            FieldError(path, f"env:{name} is set but empty: give {name} the secret's value")
        )
    return resolved
