"""A small reader for the HOCON config files a deployment mounts (secure.conf, apiserver.conf).

It yields each scalar with its full path and line, which is all the audit needs; arrays are
skipped, includes and substitutions are not followed. pyhocon stays a test-only dependency.
"""

import json
from dataclasses import dataclass, field


class HoconError(ValueError):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


@dataclass
class HoconValue:
    path: str
    line: int
    text: str = field(repr=False)  # the value as the server reads it (quotes removed)


_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_END_UNQUOTED = set(",}\n]")


class _Reader:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.out: list[HoconValue] = []

    def error(self, message: str) -> HoconError:
        return HoconError(self.line, message)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s) and self.s[self.i] == "\n":
                self.line += 1
            self.i += 1

    def skip_space(self, newlines: bool = True) -> None:
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "#" or self.s.startswith("//", self.i):
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            elif ch in " \t\r\ufeff" or (newlines and ch in "\n,"):
                self.advance()
            else:
                return

    def quoted(self) -> str:
        if self.s.startswith('"""', self.i):
            end = self.s.find('"""', self.i + 3)
            if end < 0:
                raise self.error("a triple-quoted string is not closed")
            text = self.s[self.i + 3 : end]
            self.advance(end + 3 - self.i)
            return text
        try:
            value, end = json.JSONDecoder().raw_decode(self.s, self.i)
        except ValueError:
            raise self.error("a quoted string is not closed or has a bad escape") from None
        if not isinstance(value, str):
            raise self.error("expected a quoted string")
        self.advance(end - self.i)
        return value

    def key(self) -> str:
        parts = []
        while True:
            if self.peek() == '"':
                parts.append(self.quoted())
            else:
                start = self.i
                while self.peek() and self.peek() in _KEY_CHARS:
                    self.i += 1
                if start == self.i:
                    raise self.error("expected a key")
                parts.extend(p for p in self.s[start : self.i].split(".") if p)
            if self.peek() == ".":
                self.i += 1
                continue
            return ".".join(parts)

    def skip_array(self) -> None:
        depth = 0
        while self.i < len(self.s):
            ch = self.peek()
            if ch == '"':
                self.quoted()
                continue
            if ch == "#" or self.s.startswith("//", self.i):
                self.skip_space(newlines=False)
                continue
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    self.advance()
                    return
            self.advance()
        raise self.error("an array is not closed")

    def value(self, path: str) -> None:
        self.skip_space(newlines=False)
        ch = self.peek()
        line = self.line
        if ch == "{":
            self.advance()
            self.object(path, closing="}")
        elif ch == "[":
            self.skip_array()
        elif ch == '"':
            text = self.quoted()
            self.out.append(HoconValue(path, line, text))
        else:
            start = self.i
            while self.i < len(self.s) and self.s[self.i] not in _END_UNQUOTED:
                if self.s[self.i] == "#" or self.s.startswith("//", self.i):
                    break
                self.i += 1
            text = self.s[start : self.i].strip()
            if not text:
                raise self.error(f"`{path}` has no value")
            self.out.append(HoconValue(path, line, text))

    def object(self, prefix: str, closing: str) -> None:
        while True:
            self.skip_space()
            ch = self.peek()
            if not ch:
                if closing:
                    raise self.error("a `{` is not closed")
                return
            if ch == closing:
                self.advance()
                return
            if ch in "}]":
                raise self.error(f"unexpected `{ch}`")
            if self.s.startswith("include", self.i) and self.s[self.i + 7 : self.i + 8] in " \t":
                while self.peek() and self.peek() != "\n":
                    self.i += 1
                continue
            key = self.key()
            path = f"{prefix}.{key}" if prefix else key
            self.skip_space(newlines=False)
            if self.s.startswith("+=", self.i):
                self.advance(2)
            elif self.peek() in ":=":
                self.advance()
            elif self.peek() != "{":
                raise self.error(f"expected `:`, `=` or `{{` after `{key}`")
            self.value(path)


def read_hocon(text: str, prefix: str = "") -> list[HoconValue]:
    """Every scalar of `text` as (path, line, value); raise HoconError naming the line."""
    reader = _Reader(text)
    reader.skip_space()
    if reader.peek() == "{":
        reader.advance()
        reader.object(prefix, closing="}")
        reader.skip_space()
        if reader.peek():
            raise reader.error("text after the closing `}`")
    else:
        reader.object(prefix, closing="")
    return reader.out
