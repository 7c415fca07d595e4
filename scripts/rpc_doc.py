# SPDX-License-Identifier: BSD-3-Clause
"""docs/rpc.md from the method registry (rpc_get_methods): one section per
method, its description and its parameters. scripts/rpc-doc writes it;
tests/test_rpc_doc.py fails when the file and the registry differ."""

HEADER = """# JSON-RPC reference

pktgate speaks JSON-RPC 2.0 on its Unix socket (`--rpc-socket`, default
`/run/pktgate/pktgate.sock`; see docs/security.md for who may connect).
`pktgatectl rpc METHOD '{"param": ...}'` calls any method;
`rpc_get_methods` returns this list from the running daemon. Errors carry
a negative errno or a JSON-RPC code and a message naming what was wrong;
a failed call changes nothing.

This file is generated from the method registry by `scripts/rpc-doc`; a
test fails when a registered method is missing here or a method here is
not registered.
"""


def render(methods):
    out = [HEADER]
    for m in sorted(methods, key=lambda m: m["name"]):
        out.append("## %s\n\n%s.\n" % (m["name"], m["description"].rstrip(".")))
        if not m["params"]:
            out.append("No parameters.\n")
            continue
        out.append("| parameter | type | required | description |")
        out.append("|---|---|---|---|")
        for p in m["params"]:
            kind = p["type"]
            if "min" in p:
                kind += " %d..%d" % (p["min"], p["max"])
            out.append("| `%s` | %s | %s | %s |" % (
                p["name"], kind, "yes" if p["required"] else "no",
                p["description"].replace("|", "\\|")))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
