# SPDX-License-Identifier: MIT
"""Reads the block-style YAML that `docker-compose config` prints (mappings, sequences, plain and
quoted scalars, empty {} and []). Standard library only; not a general YAML parser."""
import json
import re

_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"\s#-][^:]*?|-[^\s:][^:]*?):(?: (.*)|)$""")


def _scalar(s):
    s = s.strip()
    if s.startswith("'") and s.endswith("'") and len(s) >= 2:
        return s[1:-1].replace("''", "'")
    if s.startswith('"') and s.endswith('"') and len(s) >= 2:
        return json.loads(s)
    if s == "{}":
        return {}
    if s == "[]":
        return []
    if s in ("true", "false"):
        return s == "true"
    if s in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return s


class _Parser:
    def __init__(self, text):
        self.lines = []
        for raw in text.splitlines():
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            self.lines.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))
        self.i = 0

    def peek(self):
        return self.lines[self.i] if self.i < len(self.lines) else None

    @staticmethod
    def is_item(text):
        return text == "-" or text.startswith("- ")

    def node(self, indent):
        ln = self.peek()
        if ln is None or ln[0] < indent:
            return None
        return self.seq(ln[0]) if self.is_item(ln[1]) else self.map(ln[0])

    def seq(self, indent):
        out = []
        while True:
            ln = self.peek()
            if not ln or ln[0] != indent or not self.is_item(ln[1]):
                return out
            rest = ln[1][2:].strip()
            if rest and _KEY.match(rest):
                self.lines[self.i] = (indent + 2, rest)  # a mapping opens on the item's line
                out.append(self.map(indent + 2))
            elif rest:
                self.i += 1
                out.append(_scalar(rest))
            else:
                self.i += 1
                out.append(self.node(indent + 1))

    def map(self, indent):
        out = {}
        while True:
            ln = self.peek()
            if not ln or ln[0] != indent or self.is_item(ln[1]):
                return out
            m = _KEY.match(ln[1])
            if not m:
                raise ValueError("unexpected YAML line: %r" % ln[1])
            key = _scalar(m.group(1))
            self.i += 1
            if m.group(2) is not None and m.group(2).strip():
                out[key] = _scalar(m.group(2))
                continue
            nxt = self.peek()
            if nxt and (nxt[0] > indent or (nxt[0] == indent and self.is_item(nxt[1]))):
                out[key] = self.node(nxt[0])
            else:
                out[key] = None


def load(text):
    p = _Parser(text)
    doc = p.node(0)
    if p.peek() is not None:
        raise ValueError("unparsed YAML from line: %r" % (p.peek(),))
    return doc
