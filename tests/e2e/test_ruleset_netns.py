# SPDX-License-Identifier: BSD-3-Clause
"""The ruleset with real programs through pktgate on net_tap ports and two
workers: verdicts seen by curl, and a thousand rule changes while traffic
flows without losing a packet that both old and new rulesets accept."""
import os
import subprocess
import time

import pytest

from conftest import UDP_RECEIVER as RECEIVER, UDP_SENDER as SENDER, \
    NsRouter, sh

TAG = "pf%d" % (os.getpid() % 100000)
CLIENT_NS, SERVER_NS = TAG + "c", TAG + "s"
CLIENT_NET, SERVER_NET = "10.215.1", "10.215.2"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules-e2e")
    with NsRouter(tmp, TAG, (CLIENT_NET, SERVER_NET),
                  ("02:00:00:f1:00:02", "02:00:00:f2:00:02")) as r:
        r.serve_http(tmp)
        yield r.daemon


def curl(timeout=5):
    return sh("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
              "--max-time", str(timeout), f"http://{SERVER_NET}.2:8080/",
              ns=CLIENT_NS, check=False)


def test_verdicts_seen_by_curl(net):
    d = net
    deadline = time.time() + 20
    while curl().stdout != "200" and time.time() < deadline:
        time.sleep(0.5)     # the server may still be starting
    assert curl().stdout == "200"
    d.ctl("iptables", "-A", "FORWARD", "-p", "tcp", "--dport", "8080",
          "-j", "DROP")
    r = curl(timeout=2)
    assert r.returncode == 28       # timed out: silently dropped
    d.ctl("iptables", "-R", "FORWARD", "1", "-p", "tcp", "--dport", "8080",
          "-j", "REJECT", "--reject-with", "icmp-host-prohibited")
    r = curl(timeout=5)
    assert r.returncode == 7, r.stderr      # refused at once
    d.ctl("iptables", "-R", "FORWARD", "1", "-p", "tcp", "--dport", "8080",
          "-j", "REJECT", "--reject-with", "tcp-reset")
    r = curl(timeout=5)
    assert r.returncode == 7, r.stderr      # refused at once, by a reset
    assert d.stats("port0")["tcp_resets_out"] > 0
    d.ctl("iptables", "-D", "FORWARD", "1")
    assert curl().stdout == "200"
    st = d.stats("port0")["drops"]
    assert st["ruleset_drop"] > 0 and st["ruleset_reject"] > 0


def test_thousand_edits_under_traffic(net):
    d = net
    count, rate = 6000, 1000.0
    d.ctl("iptables", "-A", "FORWARD", "-p", "udp", "--dport", "9999",
          "-j", "ACCEPT")
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", SERVER_NS, "/usr/bin/python3", "-c",
         RECEIVER, SERVER_NET + ".2", "3"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sender = subprocess.Popen(
        ["ip", "netns", "exec", CLIENT_NS, "/usr/bin/python3", "-c", SENDER,
         SERVER_NET + ".2", str(count), str(rate)])
    times = []
    # 1,000 single-rule edits, none touching the stream: both rulesets
    # around each change accept every one of its packets.
    for i in range(500):
        for cmd in (f"-I FORWARD 1 -p tcp --dport {1000 + i} -j DROP",
                    "-D FORWARD 1"):
            t0 = time.monotonic()
            d.call("iptables", {"command": cmd})
            times.append(time.monotonic() - t0)
    sender.wait(60)
    out, _ = receiver.communicate(timeout=60)
    assert int(out) == count
    # Every packet went through the rules being edited.
    saved = d.call("iptables_save", {"counters": True})["text"]
    assert f"[{count}:" in next(
        line for line in saved.splitlines() if "--dport 9999" in line)
    times.sort()
    print("edit latency: median %.2f ms, worst %.2f ms" %
          (times[len(times) // 2] * 1e3, times[-1] * 1e3))
    d.ctl("iptables", "-F", "FORWARD")
