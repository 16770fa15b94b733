"""Reading snippets back the way each consumer does, for the snippet tests.

Each reader returns {variable name: text the process would see}; `apiserver_reads` then parses
that text the way the apiserver does (apiserver/config/basic.py: `<path>: <value>` with pyhocon).
"""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml
from pyhocon import ConfigFactory, ConfigTree

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def plain(value):
    """pyhocon's ConfigTree (also inside lists) as plain dicts, for comparison."""
    if isinstance(value, ConfigTree):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def apiserver_reads(name: str, text: str):
    """What the apiserver's configuration holds for variable `name` with content `text`."""
    for prefix in ("CLEARML__", "TRAINS__"):
        if name.startswith(prefix):
            path = name[len(prefix) :].replace("__", ".").lower()
            break
    else:
        raise AssertionError(f"{name} has no CLEARML__ prefix")
    config = ConfigFactory.parse_string(f"{path}: {text}")
    return plain(config.get(path))


def read_helm(text: str, service: str = "apiserver") -> tuple[dict, dict, list]:
    """(name -> value text, name -> secretKeyRef, all documents) as Kubernetes would see them."""
    documents = list(yaml.safe_load_all(text))
    entries = documents[0][service]["extraEnvs"]
    values, refs = {}, {}
    for entry in entries:
        assert set(entry) in ({"name", "value"}, {"name", "valueFrom"}), entry
        if "value" in entry:
            # core/v1 EnvVar.value is a string: a YAML bool or number would be refused.
            assert isinstance(entry["value"], str), entry
            values[entry["name"]] = entry["value"]
        else:
            refs[entry["name"]] = entry["valueFrom"]["secretKeyRef"]
    return values, refs, documents


def compose_unescape(text: str) -> str:
    """docker compose's interpolation of a literal value: `$$` is `$`; any other `$` would be a
    variable reference, which a correct snippet never leaves in a value."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$":
            if text[i + 1 : i + 2] == "$":
                out.append("$")
                i += 2
                continue
            raise AssertionError(f"unescaped $ compose would interpolate in {text!r}")
        out.append(text[i])
        i += 1
    return "".join(out)


def read_compose(text: str, service: str = "apiserver") -> dict:
    document = yaml.safe_load(text)
    environment = document["services"][service]["environment"]
    result = {}
    for name, value in environment.items():
        assert isinstance(value, str), (name, value)
        result[name] = compose_unescape(value)
    return result


def read_env_file(text: str) -> dict:
    """docker run --env-file: lines split on \\n (a trailing \\r dropped, as bufio.ScanLines
    does), leading blanks trimmed, `#` lines and blank lines skipped, split at the first `=`,
    the value passed through untouched."""
    result = {}
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        line = line.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"line without '=' would be read from docker's own environment: {line!r}"
        assert ENV_NAME.fullmatch(name), name
        result[name] = value
    return result


def read_shell(text: str, names: list[str]) -> dict:
    """Source the file with /bin/sh and print each variable, NUL-separated."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "vars.sh"
        script.write_text(text, encoding="utf-8")
        printer = " ".join(f'"${{{n}}}"' for n in names)
        completed = subprocess.run(
            ["sh", "-c", f". {script}; printf '%s\\0' {printer}"],
            capture_output=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        )
    values = completed.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(names, values, strict=True))
