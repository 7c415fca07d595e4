# SPDX-License-Identifier: BSD-3-Clause
"""Run each meson unit test as one pytest test."""
import json
import subprocess

import pytest

from conftest import BUILD


def unit_tests():
    out = subprocess.run(["meson", "introspect", "--tests", BUILD],
                         capture_output=True, text=True, check=True).stdout
    return sorted(t["name"] for t in json.loads(out))


@pytest.mark.parametrize("name", unit_tests())
def test_unit(name):
    r = subprocess.run(["meson", "test", "-C", BUILD, "--no-rebuild",
                        "--print-errorlogs", name],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
