# SPDX-License-Identifier: MIT
"""docs/OPERATIONS.md stays true to the tree: every metric it tells operators to watch is one a
program exports, every file it points to exists, every variable it names is a configuration row."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest  # noqa: E402

DOC = os.path.join(twtest.SOURCE, "docs", "OPERATIONS.md")


def doc():
    with open(DOC) as f:
        return f.read()


def sources(program):
    text = ""
    for d in (program, "common"):
        root = os.path.join(twtest.SOURCE, d)
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith((".c", ".h")):
                    with open(os.path.join(dirpath, name)) as f:
                        text += f.read()
    return text


def test_metrics_exist():
    names = set(re.findall(r"\btw_(ingress|worker|sender)_([a-z_]+)", doc()))
    assert names, "no metric named"
    for program, rest in sorted(names):
        name = "tw_%s_%s" % (program, rest)
        assert '"%s"' % name in sources(program), "%s is not exported by tw-%s" % (name, program)


def test_paths_exist():
    paths = set(re.findall(r"\b((?:deploy|docs|tests)/[A-Za-z0-9_./-]+[A-Za-z0-9_])", doc()))
    assert paths
    for p in sorted(paths):
        assert os.path.exists(os.path.join(twtest.SOURCE, p)), p


def test_variables_are_configuration_rows():
    with open(os.path.join(twtest.SOURCE, "common", "config.c")) as f:
        rows = set(re.findall(r'^\s*\{"([A-Z][A-Z0-9_]+)",\s*T_', f.read(), re.M))
    named = set(re.findall(r"`((?:TWILIO|TW)_[A-Z0-9_]+)`", doc()))
    assert named
    unknown = sorted(n for n in named if n not in rows)
    assert not unknown, unknown


if __name__ == "__main__":
    twtest.run([test_metrics_exist, test_paths_exist, test_variables_are_configuration_rows])
