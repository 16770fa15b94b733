"""Helm values that are not environment variables (e.g. a chart's configuration file text).

The same YAML writer as the env-variable snippets (render.dump_yaml_documents): a multi-line
text is written as a literal block when YAML can carry it exactly that way, else double-quoted
with escapes; either way `yaml.safe_load` gives back exactly the text. Values that end up in a
file (a ConfigMap) are not expanded by the kubelet, so `$` is written as it is.
"""

import yaml

from .encoding import check_text
from .render import _Dumper, dump_yaml_documents


class _Block(str):
    """A text written as a YAML literal block (`|`) when that keeps it exact."""


def _represent_block(dumper: yaml.SafeDumper, data: _Block):
    text = str(data)
    style = "|" if "\n" in text and text == text.rstrip(" ") and "\t" not in text else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(_Block, _represent_block)


def block(text: str) -> _Block:
    """Mark a multi-line text (a configuration file) for `render_values`."""
    check_text(text, "the text")
    return _Block(text)


def render_values(values: dict) -> str:
    """A Helm values document of `values` (nested mappings; texts made with `block`)."""
    return dump_yaml_documents([values])
