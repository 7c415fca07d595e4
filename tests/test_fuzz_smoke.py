# SPDX-License-Identifier: BSD-3-Clause
"""Each libFuzzer target for a short bounded time (scripts/fuzz builds
them with clang, ASan and UBSan): the seed corpus in tests/fuzz/corpus,
which holds every input a fuzzer ever crashed or hung on, plus what the
fuzzer finds in that time must run clean. Longer campaigns: run
scripts/fuzz TARGET SECONDS by hand."""
import os
import re
import subprocess

import pytest

from conftest import ROOT

SECONDS = int(os.environ.get("PGT_FUZZ_SECONDS", "15"))


@pytest.mark.parametrize("target", ["ruleset", "packet", "rpc", "ipvsadm", "config"])
def test_fuzz_target_runs_clean(target):
    r = subprocess.run([os.path.join(ROOT, "scripts", "fuzz"), target,
                        str(SECONDS)], capture_output=True, text=True,
                       timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    runs = int(re.search(r"stat::number_of_executed_units: (\d+)",
                         out).group(1))
    print("%s: %d executions in %d s" % (target, runs, SECONDS))
    assert runs > 0
