# SPDX-License-Identifier: BSD-3-Clause
"""scripts/bench --smoke: every benchmark scenario runs, briefly and small,
on the test build, and accounts for every packet it received (sent or
counted as dropped); no speed is asserted. Keeps the benchmarks from
rotting between the runs that measure."""
import json
import os
import subprocess

from conftest import BUILD, ROOT

SCENARIOS = ["l3fwd", "filter-10", "filter-1k", "filter-10k", "filter-100k",
             "sets", "update", "ct-est", "ct-snat-est", "ct-new", "ipvs-nat-est",
             "ipvs-fnat-est", "ipvs-new", "memory"]


def test_every_scenario_runs_and_accounts_for_its_packets():
    env = dict(os.environ, PGT_BUILD=BUILD)
    r = subprocess.run([os.path.join(ROOT, "scripts", "bench"), "--smoke"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(BUILD, "bench-smoke.json")) as f:
        results = json.load(f)
    assert sorted(results["scenarios"]) == sorted(SCENARIOS)
    for name, s in results["scenarios"].items():
        if "mpps" in s:
            assert s["mpps"] > 0 and s["ceiling_mpps"] > 0, name
    assert results["scenarios"]["update"]["lost_during_swaps"] == 0
    ct_new = results["scenarios"]["ct-new"]
    # Every looked-up packet started a connection: none was found.
    assert ct_new["inserts"] > 0 and ct_new["found"] == 0
    assert results["scenarios"]["memory"]["bytes_per_connection_100000"] > 0
    # Virtual services scheduled connections (not refused or passed by).
    for name in ("ipvs-nat-est", "ipvs-fnat-est", "ipvs-new"):
        assert results["scenarios"][name]["ipvs_conns"] > 0, name
