# SPDX-License-Identifier: BSD-3-Clause
"""The documentation's links lead somewhere, and every pktgatectl command
the guides show is one pktgatectl has (docs/rpc.md is checked against the
method registry by test_rpc_doc.py)."""
import glob
import os
import re
import subprocess

from conftest import PKTGATECTL, ROOT

DOCS = sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                        recursive=True)) + [os.path.join(ROOT, "README.md")]


def test_relative_links_resolve():
    broken = []
    for path in DOCS:
        text = open(path).read()
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            if not os.path.exists(os.path.join(os.path.dirname(path),
                                               target)):
                broken.append("%s: %s" % (os.path.relpath(path, ROOT),
                                          target))
    assert not broken, broken


def test_guides_use_real_commands():
    helptext = subprocess.run([PKTGATECTL, "help"], capture_output=True,
                              text=True).stdout
    commands = set(re.findall(r"^  ([a-z-]+)", helptext, re.M))
    used = set()
    for path in DOCS:
        for line in open(path):
            m = re.search(r"pktgatectl (?:-s \S+ )?(?:-j )?([a-z][a-z-]*)",
                          line)
            if m:
                used.add((os.path.relpath(path, ROOT), m.group(1)))
    unknown = sorted(u for u in used if u[1] not in commands)
    assert not unknown, unknown


def test_readme_leads_to_the_guides():
    readme = open(os.path.join(ROOT, "README.md")).read()
    for page in ("docs/getting-started.md", "docs/configuration.md",
                 "docs/observability.md", "docs/migration.md",
                 "docs/rpc.md"):
        assert page in readme, page
