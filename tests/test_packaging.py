# SPDX-License-Identifier: BSD-3-Clause
"""`meson install`: binaries, man pages that render cleanly and document
every option and command, a systemd unit systemd accepts, its settings,
the hugepage helper and the example configuration."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, PKTGATE, PKTGATECTL, ROOT

PREFIX = "/usr/local"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("dest")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir",
                        str(dest), "--no-rebuild", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def test_install_tree(installed):
    files = sorted(str(p.relative_to(installed))
                   for p in installed.rglob("*") if p.is_file())
    root = PREFIX.lstrip("/")
    for f in ("bin/pktgate", "bin/pktgatectl",
              "share/man/man8/pktgate.8", "share/man/man8/pktgatectl.8",
              "lib/systemd/system/pktgate.service",
              "libexec/pktgate-hugepages", "etc/default/pktgate",
              "share/pktgate/examples/router.json"):
        assert os.path.join(root, f) in files, files
    for exe in ("bin/pktgate", "bin/pktgatectl", "libexec/pktgate-hugepages"):
        assert os.access(installed / root / exe, os.X_OK)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed")
def test_systemd_unit_verifies(installed, tmp_path):
    unit = (installed / PREFIX.lstrip("/") / "lib/systemd/system" /
            "pktgate.service").read_text()
    assert "@" not in unit.replace("pktgate@", "")    # all substituted
    assert "ExecStart=%s/bin/pktgate $PKTGATE_EAL -- --config " \
        "%s/etc/pktgate/pktgate.json" % (PREFIX, PREFIX) in unit
    assert "LimitMEMLOCK=infinity" in unit and "--rpc-group pktgate" in unit
    assert "ExecReload=%s/bin/pktgatectl -s /run/pktgate/pktgate.sock " \
        "reload\n" % PREFIX in unit
    # Verify the installed copy: its paths moved under the destdir.
    moved = tmp_path / "pktgate.service"
    moved.write_text(unit.replace(PREFIX, str(installed) + PREFIX))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(moved)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    settings = (installed / PREFIX.lstrip("/") / "etc/default/pktgate")
    assert 'PKTGATE_EAL="-l 0-1 --no-pci' in settings.read_text()


def man_source(installed, name):
    path = installed / PREFIX.lstrip("/") / "share/man/man8" / name
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return path.read_text().replace("\\-", "-")


def test_man_pages_document_every_option_and_command(installed):
    page = man_source(installed, "pktgate.8")
    usage = subprocess.run([PKTGATE, "--no-pci", "--no-huge", "--vdev",
                            "net_null0", "-l", "0-1", "--", "--help"],
                           capture_output=True, text=True, timeout=60).stdout
    options = set(re.findall(r"^  (--[a-z-]+)", usage, re.M))
    assert len(options) >= 10
    for opt in options:
        assert opt in page, opt
    page = man_source(installed, "pktgatectl.8")
    helptext = subprocess.run([PKTGATECTL, "help"], capture_output=True,
                              text=True).stdout
    commands = set(re.findall(r"^  ([a-z-]+)", helptext, re.M))
    assert {"ip", "iptables", "capture", "top", "save"} <= commands
    for cmd in commands:
        assert re.search(r"^\.B %s$" % re.escape(cmd), page, re.M), cmd


def test_hugepage_helper_refuses_nonsense():
    r = subprocess.run([os.path.join(ROOT, "scripts", "pktgate-hugepages"),
                        "lots"], capture_output=True, text=True)
    assert r.returncode == 1 and "not a number of pages" in r.stderr
