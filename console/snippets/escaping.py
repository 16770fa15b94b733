"""Writing a variable's text for each export target, so that its consumer hands the container
exactly that text. The one place where `$`, quotes and line breaks are treated per target.

`EnvSetting.env_value` (encoding.py) is the text the process must see in its environment; each
function here wraps it for one consumer (the table is in docs/snippets.md):

- Kubernetes `env[].value` (Helm `extraEnvs`, inline secrets): the kubelet expands `$(VAR)` from
  the variables defined before it, turns `$$` into `$`, and mangles a `$` followed by a non-ASCII
  character (it copies one byte as a Latin-1 character). Every `$` is written `$$`; YAML quoting
  is the YAML writer's job. Helm itself cannot carry a few characters: its `toYaml` (the chart's
  `{{ toYaml .Values.apiserver.extraEnvs }}`) goes through JSON and go-yaml's reader, which
  refuses the C1 controls U+0080-U+009F and the non-characters U+FFFE/U+FFFF -- and then the
  whole `extraEnvs` list silently disappears from the manifest -- and reads NEL (U+0085) as a
  line break that becomes a space. Such a value is refused in the helm format (HOCON has no
  escape for them: pyhocon does not decode `\\uXXXX`).
- Kubernetes Secret (`stringData`, read through `valueFrom.secretKeyRef`): no expansion at all, so
  the text is written as it is. Writing `$$` here would reach the apiserver as `$$`.
- docker compose (`environment:` of a compose file): compose interpolates `$VAR`, `${VAR}` and
  turns `$$` into `$`, so every `$` is written `$$`.
- env file (`docker run --env-file`, docker CLI's parser): one `NAME=value` per line, split at
  the first `=`; the value is passed through untouched (no quotes removed, no `$` expanded, `#`
  is a comment only at the start of a line, trailing blanks kept). Nothing can be escaped, so a
  line break (`\\n`, or a CR that the line reader would drop) cannot be written: refused.
- POSIX shell (`export NAME='value'`): inside single quotes every character is literal, newlines
  and tabs included, except `'` itself, written `'\\''`.

Every refusal raises ValueError naming the variable and the format.
"""

import re

# bufio.Scanner's default token limit: docker refuses an env-file line of this many bytes or more.
ENV_FILE_MAX_LINE = 64 * 1024
# Characters Helm's toYaml drops (with the whole list) or changes; see above.
HELM_UNSAFE = re.compile("[\x80-\x9f\ufffe\uffff]")


def kubernetes_env_value(text: str) -> str:
    """`env[].value` of a container: `$` -> `$$` (the kubelet's dependent-variable expansion
    turns `$$` back into `$` and leaves no `$(VAR)` for it to replace)."""
    return text.replace("$", "$$")


def helm_env_value(name: str, text: str) -> str:
    """`extraEnvs[].value` in a Helm values file: refuse what Helm cannot carry, escape `$`."""
    bad = HELM_UNSAFE.search(text)
    if bad:
        what = (
            "turns it into a space" if bad.group() == "\x85" else "drops the whole extraEnvs list"
        )
        raise ValueError(
            f"{name}: the helm format cannot carry the character U+{ord(bad.group()):04X} "
            f"(Helm's toYaml {what}); use the compose, env or shell format, or remove it"
        )
    return kubernetes_env_value(text)


def kubernetes_secret_value(text: str) -> str:
    """A Secret's `stringData` value, read with `valueFrom.secretKeyRef`: never expanded."""
    return text


def compose_value(text: str) -> str:
    """A value in a compose file: `$` -> `$$` (compose interpolation turns it back)."""
    return text.replace("$", "$$")


def env_file_line(name: str, text: str) -> str:
    """`NAME=value` for `docker run --env-file`; refuse what one line cannot carry."""
    if "\n" in text or "\r" in text:
        raise ValueError(
            f"{name}: an env file (docker --env-file) holds one variable per line and cannot "
            "escape anything, so its value cannot contain a line break; use the helm, compose "
            "or shell format"
        )
    line = f"{name}={text}"
    if len(line.encode("utf-8")) >= ENV_FILE_MAX_LINE:
        raise ValueError(
            f"{name}: the env-file line is longer than docker's env-file limit of 64 KiB; use the "
            "helm, compose or shell format"
        )
    return line


def shell_export(name: str, text: str) -> str:
    """`export NAME='value'` for a POSIX shell (`'` is written `'\\''`)."""
    return f"export {name}='" + text.replace("'", "'\\''") + "'"
