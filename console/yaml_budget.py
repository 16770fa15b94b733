"""A budget for YAML documents from outside (SPECs, values files, compose files).

YAML is a program: a few hundred aliases can stand for billions of nodes ("billion laughs"), a
few thousand nested brackets overflow Python's recursion in any code that walks the result, and
a mapping can be used as a key. Every YAML the console reads from outside is first scanned as a
stream of parser events (libyaml's parser when present, nothing is constructed) and refused past
this budget, in well under a second for the largest file the console accepts.
"""

from dataclasses import dataclass

import yaml

MAX_DEPTH = 100  # nested mappings and lists; a SPEC needs about 8, a Helm values file about 20
MAX_ALIASES = 1_000  # `*name` references (an anchor used as a template a few times is fine)
MAX_NODES = 2_000_000  # scalars, mappings and lists together, with every alias expanded

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlBudgetExceeded(ValueError):
    """The document is past the budget; the message says which limit and where."""


@dataclass
class _Counts:
    aliases: int = 0
    expanded: int = 0  # nodes with every alias counted as the whole subtree it names


def check_yaml_budget(text: str, source: str = "the document") -> None:
    """Raise YamlBudgetExceeded (naming `source`, the limit and the line) when the YAML in
    `text` nests deeper than MAX_DEPTH, uses more than MAX_ALIASES aliases, or would hold more
    than MAX_NODES nodes once its aliases are expanded (each alias counts as the size of the
    subtree its anchor names, so a few dozen nested aliases standing for billions are caught
    without building anything). A YAML syntax error is left for the real loader to report."""
    counts = _Counts()
    sizes: dict[str, int] = {}  # anchor -> size of the subtree it names
    stack: list[list] = []  # open collections: [anchor, size so far]
    try:
        for event in yaml.parse(text, Loader=_Parser):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                if len(stack) > MAX_DEPTH:
                    raise YamlBudgetExceeded(
                        f"{source}: nested more than {MAX_DEPTH} levels deep{_at(event)}; no "
                        "valid file needs that many: check that the file is the one you meant"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
                _add(stack, counts, size, source, event)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                _add(stack, counts, 1, source, event)
            elif isinstance(event, yaml.AliasEvent):
                counts.aliases += 1
                if counts.aliases > MAX_ALIASES:
                    raise YamlBudgetExceeded(
                        f"{source}: more than {MAX_ALIASES} aliases (*name){_at(event)}; write "
                        "the values out instead of referring to anchors"
                    )
                _add(stack, counts, sizes.get(event.anchor, 1), source, event)
    except yaml.YAMLError:
        return


def _add(stack: list[list], counts: _Counts, size: int, source: str, event) -> None:
    """Add a finished node of `size` to its parent (or to the document's total)."""
    if stack:
        stack[-1][1] += size
        size_so_far = stack[0][1] + counts.expanded
    else:
        counts.expanded += size
        size_so_far = counts.expanded
    if size_so_far > MAX_NODES:
        raise YamlBudgetExceeded(
            f"{source}: more than {MAX_NODES:,} values once its aliases are expanded"
            f"{_at(event)}; write the values out instead of nesting anchors"
        )


def _at(event) -> str:
    mark = getattr(event, "start_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""
