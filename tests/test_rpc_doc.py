# SPDX-License-Identifier: BSD-3-Clause
"""docs/rpc.md is the method registry: every registered method is
documented with its parameters, and nothing else is."""
import os
import re
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from rpc_doc import render  # noqa: E402


def test_rpc_reference_matches_the_registry(daemons):
    methods = daemons(["net_null0"]).start().call("rpc_get_methods")
    with open(os.path.join(ROOT, "docs", "rpc.md")) as f:
        doc = f.read()
    documented = set(re.findall(r"^## (\S+)$", doc, re.M))
    registered = {m["name"] for m in methods}
    assert registered - documented == set(), "undocumented methods"
    assert documented - registered == set(), "documented, not registered"
    # Descriptions and parameters too: regenerate with scripts/rpc-doc.
    assert doc == render(methods)
