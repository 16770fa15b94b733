"""The kubelet's expansion of `$(VAR)` in a container's env values, ported for the tests.

A port of `k8s.io/kubernetes/third_party/forked/golang/expansion` (expand.go: `Expand`,
`MappingFuncFor`, `tryReadVariableName`) and of how the kubelet uses it for a container's `env`
(pkg/kubelet/kubelet_pods.go, "dependent environment variables"), written from their semantics:

- `$(NAME)` is replaced by the value of NAME when NAME is defined earlier in the same `env` list
  (or is a service variable such as KUBERNETES_SERVICE_HOST); an undefined NAME is left as
  `$(NAME)`. The name is everything up to the first `)`, whatever it contains.
- `$$` is an escaped `$` and becomes `$` (so `$$(NAME)` is the literal `$(NAME)`).
- a `$` followed by any other byte is kept with that byte; a `$` at the very end is kept.
- an unterminated `$(` is kept as `$(` and scanning goes on after the `(`.
- Go indexes strings by byte: after a `$`, the next *byte* is copied as `string(byte)`, which is
  the Latin-1 character of that byte. A `$` followed by a non-ASCII character is therefore
  mangled (`$é` becomes `$Ã` followed by the stray byte 0xA9). The port works on UTF-8 bytes to
  keep that, and returns text decoded with `surrogateescape` so stray bytes stay visible.
- Only `value` is expanded. A value from `valueFrom` (secretKeyRef, configMapKeyRef, fieldRef) is
  taken as it is, and then counts as defined for the variables after it.
"""

from collections.abc import Callable, Mapping

OPERATOR = ord("$")
OPENER = ord("(")
CLOSER = ord(")")


def syntax_wrap(name: bytes) -> bytes:
    return b"$(" + name + b")"


def mapping_func_for(*contexts: Mapping[str, str]) -> Callable[[bytes], bytes]:
    """`MappingFuncFor`: the first context that defines the name wins; else `$(name)` stays."""

    def mapping(name: bytes) -> bytes:
        key = name.decode("utf-8", "surrogateescape")
        for context in contexts:
            if key in context:
                return context[key].encode("utf-8", "surrogateescape")
        return syntax_wrap(name)

    return mapping


def _try_read_variable_name(data: bytes) -> tuple[bytes, bool, int]:
    """`tryReadVariableName(input)`: (bytes read, is a variable name, bytes consumed)."""
    first = data[0]
    if first == OPERATOR:
        return data[0:1], False, 1  # `$$`: an escaped operator
    if first == OPENER:
        for i in range(1, len(data)):
            if data[i] == CLOSER:
                return data[1:i], True, i + 1
        return b"$(", False, 1  # incomplete reference: kept, scanning resumes after `(`
    # Not an expression: the operator and Go's string(input[0]) -- the byte as a Latin-1 rune.
    return b"$" + chr(first).encode("utf-8"), False, 1


def expand_bytes(data: bytes, mapping: Callable[[bytes], bytes]) -> bytes:
    """`Expand(input, mapping)` on bytes, line for line."""
    out = bytearray()
    checkpoint = 0
    cursor = 0
    while cursor < len(data):
        if data[cursor] == OPERATOR and cursor + 1 < len(data):
            out += data[checkpoint:cursor]
            read, is_var, advance = _try_read_variable_name(data[cursor + 1 :])
            out += mapping(read) if is_var else read
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return bytes(out) + data[checkpoint:]


def expand(text: str, *contexts: Mapping[str, str]) -> str:
    """`Expand(text, MappingFuncFor(contexts...))` for text."""
    data = text.encode("utf-8", "surrogateescape")
    return expand_bytes(data, mapping_func_for(*contexts)).decode("utf-8", "surrogateescape")


# What the kubelet adds for the `kubernetes` service of the default namespace (always present).
SERVICE_ENV = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
}


class UnresolvedReference(LookupError):
    """An env entry's valueFrom that the caller cannot resolve."""


def container_environment(
    env: list[dict],
    *,
    resolve_value_from: Callable[[dict], str] | None = None,
    service_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment the container process gets from a core/v1 `env` list, as the kubelet
    makes it: entries in order, each `value` expanded against the variables defined so far
    (then the service variables); a `valueFrom` resolved by `resolve_value_from(valueFrom)` and
    not expanded. A later entry of the same name replaces the earlier one."""
    service_env = SERVICE_ENV if service_env is None else service_env
    defined: dict[str, str] = {}
    for entry in env:
        name = entry["name"]
        value = entry.get("value") or ""
        if value != "":
            value = expand(value, defined, service_env)
        elif entry.get("valueFrom") is not None:
            if resolve_value_from is None:
                raise UnresolvedReference(f"{name}: no resolver for valueFrom")
            value = resolve_value_from(entry["valueFrom"])
        defined[name] = value
    return {**service_env, **defined}
