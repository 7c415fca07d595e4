# SPDX-License-Identifier: BSD-3-Clause
"""A strict parser of the Prometheus text exposition format 0.0.4.

Stricter than Prometheus itself where pktgate promises more: every family
has HELP and TYPE before its samples, a family's samples are contiguous, no
series repeats, counters are named *_total and never negative. Raises
ValueError with the line number on the first violation."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _labels(s, pos, lineno):
    """Parse {a="x",b="y"} at s[pos] == '{'; return (dict, next pos)."""
    out = {}
    pos += 1
    while True:
        if s[pos] == "}":
            return out, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise ValueError(f"line {lineno}: bad label name at {s[pos:]!r}")
        name = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise ValueError(f"line {lineno}: expected =\" after {name}")
        pos += 2
        value = []
        while s[pos] != '"':
            if s[pos] == "\\":
                esc = s[pos + 1]
                if esc not in '\\"n':
                    raise ValueError(f"line {lineno}: bad escape \\{esc}")
                value.append("\n" if esc == "n" else esc)
                pos += 2
            elif s[pos] == "\n":
                raise ValueError(f"line {lineno}: newline in label value")
            else:
                value.append(s[pos])
                pos += 1
        pos += 1
        if name in out:
            raise ValueError(f"line {lineno}: label {name} repeated")
        out[name] = "".join(value)
        if s[pos] == ",":
            pos += 1
        elif s[pos] != "}":
            raise ValueError(f"line {lineno}: expected , or }} in labels")


def parse(text):
    """Return {family: {"type", "help", "samples": {labels tuple: value}}}."""
    if text and not text.endswith("\n"):
        raise ValueError("the last line does not end with a newline")
    fams = {}
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            if not NAME.fullmatch(name):
                raise ValueError(f"line {lineno}: bad metric name {name!r}")
            fam = fams.setdefault(name, {"type": None, "help": None,
                                         "samples": {}})
            if fam["samples"]:
                raise ValueError(f"line {lineno}: {kind} of {name} after "
                                 "its samples")
            key = "help" if kind == "HELP" else "type"
            if fam[key] is not None:
                raise ValueError(f"line {lineno}: second {kind} for {name}")
            if key == "type" and arg not in TYPES:
                raise ValueError(f"line {lineno}: unknown type {arg!r}")
            fam[key] = arg
            if current is not None and current != name:
                fams[current]["closed"] = True
            current = name
            continue
        if line.startswith("#") or not line:
            if line and not line.startswith("# "):
                raise ValueError(f"line {lineno}: bad comment {line!r}")
            continue
        m = NAME.match(line)
        if not m:
            raise ValueError(f"line {lineno}: bad sample {line!r}")
        name = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _labels(line + "\n", pos, lineno)
        if pos >= len(line) or line[pos] != " ":
            raise ValueError(f"line {lineno}: expected a space before the "
                             "value")
        parts = line[pos + 1:].split(" ")
        if len(parts) not in (1, 2):
            raise ValueError(f"line {lineno}: trailing text {line!r}")
        value = float(parts[0])  # ValueError on garbage; accepts NaN, +Inf
        fam = fams.get(name)
        if fam is None or fam["type"] is None or fam["help"] is None:
            raise ValueError(f"line {lineno}: sample of {name} without "
                             "HELP and TYPE")
        if name != current or fam.get("closed"):
            raise ValueError(f"line {lineno}: samples of {name} are not "
                             "contiguous")
        series = tuple(sorted(labels.items()))
        if series in fam["samples"]:
            raise ValueError(f"line {lineno}: series repeated: {line!r}")
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                raise ValueError(f"line {lineno}: counter {name} is not "
                                 "named *_total")
            if value < 0 or math.isnan(value):
                raise ValueError(f"line {lineno}: counter {name} < 0")
        fam["samples"][series] = value
    for name, fam in fams.items():
        if fam["type"] is None or fam["help"] is None:
            raise ValueError(f"{name}: HELP or TYPE missing")
    return fams


def value(fams, name, **labels):
    """The value of one series; KeyError if it is absent."""
    return fams[name]["samples"][tuple(sorted(labels.items()))]
