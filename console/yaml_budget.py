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
    limit: int = MAX_NODES
    aliases: int = 0
    # Every node read so far, each alias counted as the whole subtree it names. Counted as each
    # node is read, not when its collection closes: a flat list of a million values inside a
    # mapping must be refused at the limit, not after the parser has read all of it.
    expanded: int = 0


def check_yaml_budget(
    text: str,
    source: str = "the document",
    *,
    max_nodes: int = MAX_NODES,
    syntax_errors: bool = False,
) -> None:
    """Raise YamlBudgetExceeded (naming `source`, the limit and the line) when the YAML in
    `text` nests deeper than MAX_DEPTH, uses more than MAX_ALIASES aliases, or would hold more
    than `max_nodes` nodes once its aliases are expanded (each alias counts as the size of the
    subtree its anchor names, so a few dozen nested aliases standing for billions are caught
    without building anything). A YAML syntax error is left for the real loader to report.

    `max_nodes` is lower for files read by a slower loader than a SPEC's (ruamel.yaml takes
    about 90 µs per node) and for files that never hold many values (a values file).
    `syntax_errors=True` raises the parser's yaml.YAMLError instead: for a document another
    loader reads next (ruamel.yaml), which may accept what libyaml refuses, so that the budget
    is not skipped by a first line only the other loader takes (`%FOO bar`)."""
    counts = _Counts(limit=max_nodes)
    sizes: dict[str, int] = {}  # anchor -> size of the subtree it names
    collections: set[str] = set()  # anchors that name a mapping or a list
    stack: list[list] = []  # open collections: [anchor, size so far, is a mapping, key next]
    try:
        for event in yaml.parse(text, Loader=_Parser):
            if isinstance(event, yaml.NodeEvent):
                _refuse_collection_key(stack, event, collections, source)
            if isinstance(event, yaml.CollectionStartEvent):
                _count(counts, 1, source, event)
                stack.append([event.anchor, 1, isinstance(event, yaml.MappingStartEvent), True])
                if len(stack) > MAX_DEPTH:
                    raise YamlBudgetExceeded(
                        f"{source}: nested more than {MAX_DEPTH} levels deep{_at(event)}; no "
                        "valid file needs that many: check that the file is the one you meant"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size, _, _ = stack.pop()
                if anchor:
                    sizes[anchor] = size
                    collections.add(anchor)
                _add_to_parent(stack, size)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                _count(counts, 1, source, event)
                _add_to_parent(stack, 1)
            elif isinstance(event, yaml.AliasEvent):
                counts.aliases += 1
                if counts.aliases > MAX_ALIASES:
                    raise YamlBudgetExceeded(
                        f"{source}: more than {MAX_ALIASES} aliases (*name){_at(event)}; write "
                        "the values out instead of referring to anchors"
                    )
                size = sizes.get(event.anchor, 1)
                _count(counts, size, source, event)
                _add_to_parent(stack, size)
    except yaml.YAMLError:
        if syntax_errors:
            raise
        return


def _refuse_collection_key(stack: list[list], event, collections: set[str], source: str) -> None:
    """A mapping or list used as a mapping key (`? {a: 1}`): no file the console reads needs
    one, and ruamel.yaml hashes nested ones in time exponential in their depth."""
    if not (stack and stack[-1][2] and stack[-1][3]):
        return
    if isinstance(event, yaml.CollectionStartEvent) or (
        isinstance(event, yaml.AliasEvent) and event.anchor in collections
    ):
        raise YamlBudgetExceeded(
            f"{source}: a mapping or list is used as a key{_at(event)}; a key must be a plain "
            "value such as a name or a number"
        )


def _add_to_parent(stack: list[list], size: int) -> None:
    """Add a finished node of `size` to the collection it is in (for the size its anchor names)."""
    if stack:
        stack[-1][1] += size
        if stack[-1][2]:
            stack[-1][3] = not stack[-1][3]  # a mapping alternates key, value


def _count(counts: _Counts, size: int, source: str, event) -> None:
    """Count a node of `size` just read; refuse the document once past the limit."""
    counts.expanded += size
    if counts.expanded <= counts.limit:
        return
    if counts.aliases:
        raise YamlBudgetExceeded(
            f"{source}: more than {counts.limit:,} values once its aliases are expanded"
            f"{_at(event)}; write the values out instead of nesting anchors"
        )
    raise YamlBudgetExceeded(
        f"{source}: more than {counts.limit:,} values{_at(event)}; no valid file needs "
        "that many: check that the file is the one you meant"
    )


def _at(event) -> str:
    mark = getattr(event, "start_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""
