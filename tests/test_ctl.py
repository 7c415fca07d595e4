# SPDX-License-Identifier: BSD-3-Clause
"""pktgatectl: iproute2-style commands, JSON output, one-line errors."""
import json

import pytest


@pytest.fixture
def d(daemons):
    return daemons(["net_ring0", "net_ring1"]).start()


def test_addr_route_link(d):
    d.ctl("ip", "addr", "add", "10.5.0.1/24", "dev", "port0")
    d.ctl("ip", "a", "add", "10.6.0.1/24", "dev", "port1")
    out = d.ctl("ip", "addr").stdout
    assert "inet 10.5.0.1/24 scope global port0" in out
    d.ctl("ip", "route", "add", "default", "via", "10.6.0.254")
    d.ctl("ip", "route", "add", "10.8.0.0/16", "via", "10.5.0.9",
          "dev", "port0")
    d.ctl("ip", "route", "add", "blackhole", "10.9.0.0/16")
    routes = d.ctl("ip", "route").stdout.splitlines()
    assert "default via 10.6.0.254 dev port1 proto static" in routes
    assert "10.8.0.0/16 via 10.5.0.9 dev port0 proto static" in routes
    assert "10.5.0.0/24 dev port0 proto kernel scope link" in routes
    assert "blackhole 10.9.0.0/16" in routes
    assert "local 10.5.0.1 dev port0 proto kernel scope host" in routes
    get = d.ctl("ip", "route", "get", "10.8.1.1").stdout
    assert get.strip() == "10.8.1.1 via 10.5.0.9 dev port0"
    d.ctl("ip", "route", "del", "10.8.0.0/16")
    assert "10.8.0.0/16" not in d.ctl("ip", "route").stdout
    d.ctl("ip", "link", "set", "port0", "name", "lan", "mtu", "1400")
    link = d.ctl("ip", "link").stdout
    assert "0: lan: <UP" in link and "mtu 1400" in link
    d.ctl("ip", "link", "set", "lan", "down")
    assert "0: lan: <DOWN" in d.ctl("ip", "link").stdout
    # net_ring loops a port's output back to its input: the gratuitous ARP
    # for 10.6.0.1 comes back to port1 and must not be learned or answered.
    stats = d.ctl("ip", "-s", "link").stdout
    assert "drops: arp_from_own_address 1" in stats
    assert d.ctl("ip", "neigh").stdout == ""
    d.ctl("ip", "addr", "del", "10.5.0.1/24", "dev", "lan")
    assert "10.5.0.1" not in d.ctl("ip", "addr").stdout


def test_neigh(d):
    d.ctl("ip", "addr", "add", "10.5.0.1/24", "dev", "port0")
    d.ctl("ip", "neigh", "add", "10.5.0.7", "lladdr", "02:00:00:00:00:07",
          "dev", "port0")
    out = d.ctl("ip", "neigh").stdout
    assert out.strip() == "10.5.0.7 dev port0 lladdr 02:00:00:00:00:07 PERMANENT"
    d.ctl("ip", "neigh", "del", "10.5.0.7", "dev", "port0")
    assert d.ctl("ip", "neigh").stdout == ""


def test_json_and_rpc(d):
    ports = json.loads(d.ctl("-j", "ip", "link").stdout)
    assert [p["name"] for p in ports] == ["port0", "port1"]
    res = json.loads(d.ctl("rpc", "ip_route_get",
                           '{"address": "10.1.1.1"}', check=False).stdout
                     or "null")
    assert res is None
    info = json.loads(d.ctl("rpc", "system_info").stdout)
    assert info["nb_workers"] == 1


@pytest.mark.parametrize("args,message", [
    (("ip", "addr", "add", "10.5.0.1/24", "dev", "nope"),
     "no port named 'nope'"),
    (("ip", "route", "add", "10.7.0.0/16", "via", "10.99.0.1"),
     "gateway 10.99.0.1 is not on a connected subnet"),
    (("ip", "route", "add", "10.7.0.1/16", "dev", "port0"),
     "host bits must be zero"),
    (("ip", "route", "get", "10.1.1.1"), "no route to 10.1.1.1"),
    (("ip", "frob"), "unknown object 'frob'"),
    (("rpc", "nope"), "method 'nope' not found"),
    (("rpc", "port_list", "{bad"), "params:"),
])
def test_errors_one_line(d, args, message):
    r = d.ctl(*args, check=False)
    assert r.returncode == 1
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr


def test_no_daemon(tmp_path):
    import subprocess
    from conftest import PKTGATECTL
    r = subprocess.run([PKTGATECTL, "-s", str(tmp_path / "x.sock"), "ip",
                        "link"], capture_output=True, text=True)
    assert r.returncode == 1 and "is pktgate running?" in r.stderr
