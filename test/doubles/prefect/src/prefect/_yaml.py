# TEST DOUBLE of Prefect 3.4 (reads prefect.yaml like PyYAML's safe_load); product code must not know about it.
"""Load YAML with PyYAML when importable (what real Prefect uses), else with a small block-YAML subset parser.

The subset: block mappings and sequences, `- key: value` items, plain / single- / double-quoted scalars,
flow sequences and mappings on one line, `|` and `>` block scalars, comments, `---`, null/bool/int/float.
Anchors, tags and multi-document streams are refused with a clear error.
"""
from __future__ import annotations

import json
import re
from typing import Any, List, Tuple


class YamlError(ValueError):
    pass


def safe_load(text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return _Parser(text).parse()
    return yaml.safe_load(text)


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _scalar(token: str, line: int) -> Any:
    s = token.strip()
    if s == "" or s in ("~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE"):
        return True
    if s in ("false", "False", "FALSE"):
        return False
    if s.startswith('"'):
        if not s.endswith('"') or len(s) < 2:
            raise YamlError(f"line {line}: unterminated double-quoted scalar")
        return json.loads(s)
    if s.startswith("'"):
        if not s.endswith("'") or len(s) < 2:
            raise YamlError(f"line {line}: unterminated single-quoted scalar")
        return s[1:-1].replace("''", "'")
    if s.startswith(("[", "{")):
        value, rest = _flow(s, 0, line)
        if rest.strip():
            raise YamlError(f"line {line}: trailing characters after flow collection")
        return value
    if s.startswith(("&", "*", "!", "%", "@", "`")):
        raise YamlError(f"line {line}: unsupported YAML construct {s[:10]!r} (test double subset parser)")
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s):
        return float(s)
    return s


def _flow(s: str, i: int, line: int) -> Tuple[Any, str]:
    """Parse a flow collection starting at s[i]; return (value, remaining text)."""
    opener = s[i]
    closer = "]" if opener == "[" else "}"
    i += 1
    items: List[Any] = []
    mapping: dict = {}
    while True:
        while i < len(s) and s[i] in " \t":
            i += 1
        if i >= len(s):
            raise YamlError(f"line {line}: unterminated flow collection")
        if s[i] == closer:
            return (items if opener == "[" else mapping), s[i + 1:]
        if s[i] in "[{":
            value, rest = _flow(s, i, line)
            s, i = rest, 0
            key = None
        else:
            j = i
            if s[i] in "\"'":
                q = s[i]
                j = i + 1
                while j < len(s) and not (s[j] == q and (q == "'" or s[j - 1] != "\\")):
                    j += 1
                j += 1
            else:
                while j < len(s) and s[j] not in ",:" + closer:
                    j += 1
                while s[j:j + 1] == ":" and s[j + 1:j + 2] not in (" ", "", closer, ","):
                    j += 1
                    while j < len(s) and s[j] not in ",:" + closer:
                        j += 1
            token = s[i:j]
            value = _scalar(token, line)
            i = j
            key = None
            while i < len(s) and s[i] == " ":
                i += 1
            if opener == "{" and i < len(s) and s[i] == ":":
                key = value
                i += 1
                while i < len(s) and s[i] == " ":
                    i += 1
                if s[i] in "[{":
                    value, rest = _flow(s, i, line)
                    s, i = rest, 0
                else:
                    j = i
                    while j < len(s) and s[j] not in "," + closer:
                        j += 1
                    value = _scalar(s[i:j], line)
                    i = j
        if opener == "[":
            items.append(value)
        else:
            mapping[key if key is not None else value] = value if key is not None else None
        while i < len(s) and s[i] == " ":
            i += 1
        if i < len(s) and s[i] == ",":
            i += 1


def _strip_comment(text: str) -> str:
    out, quote = [], None
    for idx, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (idx == 0 or text[idx - 1] in " [{,:-"):
            quote = ch
        elif ch == "#" and (idx == 0 or text[idx - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines: List[Tuple[int, int, str, str]] = []  # (lineno, indent, content, raw)
        for n, raw in enumerate(text.splitlines(), 1):
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise YamlError(f"line {n}: tabs are not allowed for indentation")
            content = _strip_comment(raw)
            if content.strip() in ("", "---", "..."):
                if content.strip() == "---" and self.lines:
                    raise YamlError(f"line {n}: multiple documents are not supported")
                self.lines.append((n, -1, "", raw))
                continue
            self.lines.append((n, len(content) - len(content.lstrip()), content.strip(), raw))
        self.i = 0

    def _next_significant(self) -> int:
        while self.i < len(self.lines) and self.lines[self.i][1] < 0:
            self.i += 1
        return self.i

    def parse(self) -> Any:
        self._next_significant()
        if self.i >= len(self.lines):
            return None
        value = self._block(self.lines[self.i][1])
        self._next_significant()
        if self.i < len(self.lines):
            raise YamlError(f"line {self.lines[self.i][0]}: unexpected indentation")
        return value

    def _block(self, indent: int) -> Any:
        self._next_significant()
        n, ind, content, _ = self.lines[self.i]
        if content.startswith("- ") or content == "-":
            return self._seq(ind)
        if self._split_key(content) is not None:
            return self._map(ind)
        self.i += 1
        return _scalar(content, n)

    @staticmethod
    def _split_key(content: str) -> Any:
        if content.startswith(("\"", "'")):
            q = content[0]
            end = content.find(q, 1)
            while q == '"' and end > 0 and content[end - 1] == "\\":
                end = content.find(q, end + 1)
            if end > 0 and content[end + 1:end + 2] == ":" and content[end + 2:end + 3] in ("", " "):
                return _scalar(content[: end + 1], 0), content[end + 2:].strip()
            return None
        m = re.match(r"^([^\s\[\]{},#][^:]*?|[^:]*?):(\s+|$)(.*)$", content)
        if not m or content.startswith(("[", "{")):
            return None
        return m.group(1).strip(), m.group(3)

    def _value_after(self, rest: str, n: int, parent_indent: int) -> Any:
        if rest in ("|", "|-", "|+", ">", ">-", ">+"):
            return self._block_scalar(rest, parent_indent)
        if rest.strip() == "":
            self._next_significant()
            if self.i < len(self.lines):
                nn, ind, content, _ = self.lines[self.i]
                if ind > parent_indent or (ind == parent_indent and content.startswith("- ")):
                    return self._block(ind)
            return None
        return _scalar(rest, n)

    def _map(self, indent: int) -> dict:
        result: dict = {}
        while True:
            self._next_significant()
            if self.i >= len(self.lines):
                return result
            n, ind, content, _ = self.lines[self.i]
            if ind < indent:
                return result
            if ind > indent:
                raise YamlError(f"line {n}: unexpected indentation")
            kv = self._split_key(content)
            if kv is None:
                if content.startswith("- "):
                    return result
                raise YamlError(f"line {n}: expected 'key: value'")
            key, rest = kv
            self.i += 1
            if key in result:
                raise YamlError(f"line {n}: duplicate key {key!r}")
            result[key] = self._value_after(rest, n, indent)

    def _seq(self, indent: int) -> list:
        result: list = []
        while True:
            self._next_significant()
            if self.i >= len(self.lines):
                return result
            n, ind, content, raw = self.lines[self.i]
            if ind < indent or not (content.startswith("- ") or content == "-"):
                if ind > indent:
                    raise YamlError(f"line {n}: unexpected indentation")
                return result
            if ind > indent:
                raise YamlError(f"line {n}: unexpected indentation")
            item = content[1:].lstrip()
            item_indent = ind + (len(content) - len(item))
            if item == "":
                self.i += 1
                result.append(self._value_after("", n, ind))
                continue
            if item.startswith("- ") or self._split_key(item) is not None:
                # re-enter the same line as a nested block at the item's column
                self.lines[self.i] = (n, item_indent, item, raw)
                result.append(self._block(item_indent))
                continue
            self.i += 1
            if item in ("|", "|-", ">", ">-"):
                result.append(self._block_scalar(item, ind))
            else:
                result.append(_scalar(item, n))

    def _block_scalar(self, style: str, parent_indent: int) -> str:
        lines: List[str] = []
        block_indent = None
        while self.i < len(self.lines):
            n, ind, content, raw = self.lines[self.i]
            stripped = raw.strip()
            cur = len(raw) - len(raw.lstrip())
            if stripped and cur <= parent_indent:
                break
            if stripped and block_indent is None:
                block_indent = cur
            lines.append(raw[block_indent:] if stripped and block_indent is not None else "")
            self.i += 1
        while lines and lines[-1] == "":
            lines.pop()
        text = "\n".join(lines) if style.startswith("|") else " ".join(l for l in lines)
        return text if style.endswith("-") else text + "\n"
