# SPDX-License-Identifier: BSD-3-Clause
"""pktgatectl without a command: the interactive shell on a real terminal
(tmux) with completion and history, the same shell reading a script, -j
listings, and `pktgatectl top`."""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import PKTGATECTL, Daemon


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, ["net_null0", "net_null1"]).start()
    try:
        d.ctl("iptables", "-N", "WEBCHAIN")
        d.ctl("ipvsadm", "-A", "-t", "10.77.0.1:443", "-s", "rr")
        d.ctl("ipset", "create", "blocklist", "hash:ip")
        yield d
    finally:
        d.stop()


def shell_script(d, text):
    return subprocess.run([PKTGATECTL, "-s", d.sock], input=text,
                          capture_output=True, text=True, timeout=60)


def test_script_on_stdin_runs_every_line(daemon):
    d = daemon
    r = shell_script(d, "# a comment\n"
                     "iptables -A FORWARD -p tcp --dport 25 -j LOG "
                     "--log-prefix 'smtp out: '\n"
                     "no-such-command\n"
                     "iptables -A FORWARD -p tcp --dport 25 -j DROP\n"
                     "-j ipvsadm -L -n\n")
    # A failing line is reported, the next ones still run, the status says.
    assert r.returncode == 1
    assert "unknown command 'no-such-command'" in r.stderr
    assert json.loads(r.stdout)["services"][0]["address"] == "10.77.0.1"
    rules = d.ctl("iptables", "-S", "FORWARD").stdout
    assert '-A FORWARD -p tcp -m tcp --dport 25 -j LOG --log-prefix ' \
        '"smtp out: "' in rules
    assert "--dport 25 -j DROP" in rules
    assert shell_script(d, "ip link\nexit\nno-such-command\n").returncode == 0
    d.ctl("ipset", "add", "blocklist", "10.0.0.9")
    assert d.ctl("ipset", "list", "-n").stdout == "blocklist\n"
    terse = d.ctl("ipset", "list", "blocklist", "-t").stdout
    assert "Number of entries: 1" in terse and "10.0.0.9" not in terse
    assert "not -n (-name) or -t" in d.ctl("ipset", "list", "-x",
                                           check=False).stderr


def test_json_listings(daemon):
    d = daemon
    chains = json.loads(d.ctl("-j", "iptables", "-L").stdout)
    assert [c["name"] for c in chains] == ["INPUT", "FORWARD", "OUTPUT",
                                           "WEBCHAIN"]
    nat = json.loads(d.ctl("-j", "iptables", "-t", "nat", "-S",
                           "PREROUTING").stdout)
    assert [c["name"] for c in nat] == ["PREROUTING"]
    ipvs = json.loads(d.ctl("-j", "ipvsadm", "-L", "-n").stdout)
    assert ipvs["services"][0]["scheduler"] == "rr"
    checks = json.loads(d.ctl("-j", "ipvsadm", "-L", "-n",
                              "--checks").stdout)
    assert "services" in checks
    links = json.loads(d.ctl("-j", "ip", "link").stdout)
    assert [p["name"] for p in links] == ["port0", "port1"]


def test_help_for_every_command(daemon):
    d = daemon
    full = d.ctl("help").stdout
    for cmd in ("ip", "host", "iptables", "iptables-save", "iptables-restore",
                "ipset", "conntrack", "ipvsadm", "capture", "top", "rpc",
                "save"):
        one = d.ctl("help", cmd).stdout
        assert one.startswith(cmd + ": ") and len(one.splitlines()) >= 2
        assert one.split("\n", 1)[1] in full
    r = d.ctl("help", "nope", check=False)
    assert r.returncode == 1 and "no command 'nope'" in r.stderr


class Tmux:
    """pktgatectl's shell on a tmux pseudo-terminal of our own server."""

    def __init__(self, tmp_path, d):
        self.server = "pgt%d" % os.getpid()
        self.env = dict(os.environ, HOME=str(tmp_path))
        self.cmd = "%s -s %s" % (PKTGATECTL, d.sock)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.server, *args],
                              capture_output=True, text=True, env=self.env,
                              timeout=30)

    def start(self):
        self.tmux("new-session", "-d", "-s", "sh", "-x", "160", "-y", "40",
                  self.cmd)
        self.wait_for("pktgate>")
        return self

    def keys(self, *k):
        self.tmux("send-keys", "-t", "sh", "--", *k)

    def complete(self, typed, expect):
        """Type, press Tab, and see the line become @expect (a marker typed
        after Tab shows where the cursor is: trailing blanks are not)."""
        self.keys(typed, "Tab", "|")
        self.wait_for(re.escape("pktgate> " + expect + "|"))
        self.keys("BSpace")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "sh").stdout

    def wait_for(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if re.search(pattern, s):
                return s
            time.sleep(0.1)
        raise AssertionError("no %r on the screen:\n%s" % (pattern,
                                                           self.screen()))

    def stop(self):
        self.tmux("kill-server")


def test_interactive_completion_history_help(tmp_path, daemon):
    t = Tmux(tmp_path, daemon).start()
    try:
        # Commands, then chains of the table, then targets and chains.
        t.complete("ipvsa", "ipvsadm ")
        t.keys("C-u")
        t.complete("iptables-sa", "iptables-save ")
        t.keys("C-u")
        t.complete("iptables -A WEB", "iptables -A WEBCHAIN ")
        t.complete("-j ACC", "iptables -A WEBCHAIN -j ACCEPT ")
        t.keys("Enter")
        t.wait_for(r"ACCEPT\s*\npktgate>")
        # Services, ports and sets come from the daemon.
        t.complete("ipvsadm -E -t 10.7", "ipvsadm -E -t 10.77.0.1:443 ")
        t.keys("C-u", "ip link set p", "Tab", "Tab")
        t.wait_for(r"port0\s+port1")
        t.keys("C-u")
        t.complete("ipset add bl", "ipset add blocklist ")
        t.keys("C-u", "help top", "Enter")
        t.wait_for(r"top: live rates")
        # An error leaves the shell running.
        t.keys("iptables -A NOSUCH -j DROP", "Enter")
        t.wait_for(r"pktgatectl: .*NOSUCH")
        t.keys("exit", "Enter")
        time.sleep(0.5)
    finally:
        t.stop()
    assert "-A WEBCHAIN -j ACCEPT" in daemon.ctl("iptables", "-S").stdout
    # History survives the session: Up recalls the last line of the last one.
    t = Tmux(tmp_path, daemon).start()
    try:
        t.keys("Up", "Up")
        t.wait_for(r"pktgate> iptables -A NOSUCH -j DROP")
    finally:
        t.stop()


def test_top_shows_rates(tmp_path, daemon):
    # net_null receives as fast as it is polled: rates are never zero.
    r = daemon.ctl("top", "-n", "2", "-d", "1")
    frames = [f for f in re.split(r"(?m)^pktgate ", r.stdout) if f.strip()]
    assert len(frames) == 2
    m = re.search(r"^port0\s+(\d+)\s", frames[-1], re.M)
    assert m and int(m.group(1)) > 0
    assert re.search(r"^TCP 10\.77\.0\.1:443\s", frames[-1], re.M)
    assert re.search(r"^0\s+\d+\s+[\d.]+$", frames[-1], re.M)   # worker 0
    bad = daemon.ctl("top", "-d", "0", check=False)
    assert bad.returncode == 1 and "not a number in 1..3600" in bad.stderr
