# SPDX-License-Identifier: BSD-3-Clause
"""Real Linux programs in network namespaces talking through pktgate on
net_tap ports, with two worker lcores."""
import json
import os
import subprocess
import time

import pytest

from conftest import NsRouter, sh

TAG = "pg%d" % (os.getpid() % 100000)
CLIENT_NS, SERVER_NS = TAG + "c", TAG + "s"
# Inside namespaces only; chosen not to overlap the host's own networks.
CLIENT_NET, SERVER_NET = "10.211.1", "10.211.2"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    www = tmp / "www"
    www.mkdir()
    (www / "index.html").write_text("hello through pktgate\n")
    with NsRouter(tmp, TAG, (CLIENT_NET, SERVER_NET),
                  ("02:00:00:d1:00:02", "02:00:00:d2:00:02")) as r:
        r.serve_http(www)
        yield {"daemon": r.daemon, "procs": r.procs}


def test_two_workers(net):
    d = net["daemon"]
    assert d.call("system_info")["nb_workers"] == 2
    ports = d.call("port_list")
    assert [p["rx_queues"] for p in ports] == [2, 2]


def test_ping_both_ways(net):
    r = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER_NET + ".2",
           ns=CLIENT_NS, check=False)
    assert r.returncode == 0, r.stdout
    assert "ttl=63" in r.stdout
    r = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", CLIENT_NET + ".2",
           ns=SERVER_NS, check=False)
    assert r.returncode == 0, r.stdout
    r = sh("ping", "-c", "1", "-W", "2", CLIENT_NET + ".1", ns=CLIENT_NS,
           check=False)
    assert r.returncode == 0 and "ttl=64" in r.stdout
    neigh = net["daemon"].call("ip_neigh_list")["neighbours"]
    assert {n["address"] for n in neigh} >= {CLIENT_NET + ".2",
                                             SERVER_NET + ".2"}


def test_curl(net):
    deadline = time.time() + 20
    while True:
        r = sh("curl", "-sS", "--max-time", "5",
               f"http://{SERVER_NET}.2:8080/index.html", ns=CLIENT_NS,
               check=False)
        if r.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.5)     # the server may still be starting
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello through pktgate\n"


def test_iperf3_tcp(net):
    server = subprocess.Popen(
        ["ip", "netns", "exec", SERVER_NS, "iperf3", "-s", "-1", "-B",
         SERVER_NET + ".2"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        r = sh("iperf3", "-c", SERVER_NET + ".2", "-t", "10", "-J",
               ns=CLIENT_NS, check=False, timeout=40)
        assert r.returncode == 0, r.stdout[-2000:]
        result = json.loads(r.stdout)
        received = result["end"]["sum_received"]
        assert received["bytes"] > 10 * 1024 * 1024
        assert received["seconds"] >= 9
    finally:
        server.terminate()
        server.wait(10)
    st = net["daemon"].stats("port0")
    assert st["forwarded"] > 1000


def test_unreachable_and_ttl(net):
    r = sh("ping", "-c", "1", "-W", "2", "10.211.99.1", ns=CLIENT_NS,
           check=False)
    assert "Destination Net Unreachable" in r.stdout
    assert f"From {CLIENT_NET}.1" in r.stdout
    r = sh("ping", "-c", "1", "-W", "2", "-t", "1", SERVER_NET + ".2",
           ns=CLIENT_NS, check=False)
    assert "Time to live exceeded" in r.stdout


def test_port_down_and_up(net):
    d = net["daemon"]
    d.ctl("ip", "link", "set", "port1", "down")
    r = sh("ping", "-c", "1", "-W", "2", SERVER_NET + ".2", ns=CLIENT_NS,
           check=False)
    assert r.returncode != 0
    assert "Destination Net Unreachable" in r.stdout
    d.ctl("ip", "link", "set", "port1", "up")
    r = sh("ping", "-c", "2", "-W", "2", SERVER_NET + ".2", ns=CLIENT_NS,
           check=False)
    assert r.returncode == 0, r.stdout
