# SPDX-License-Identifier: BSD-3-Clause
"""Named sets (ipset's hash:ip, hash:net, hash:ip,port) and -m set: the
commands, their errors, the saved configuration, and verdicts through the
daemon on net_pcap."""
import json

import pytest
from scapy.all import IP, UDP, Ether, Raw, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, pcap_daemon,
                      pcap_router_config)
from conftest import RpcError

SETS = """create svc hash:ip,port family inet hashsize 1024 maxelem 100
add svc 10.2.0.2,udp:88
create nets hash:net
add nets 10.9.0.0/16
add nets 10.1.0.0/24
create blocked hash:ip
add blocked 10.1.0.66
"""
RULES = """*filter
:FORWARD DROP [0:0]
-A FORWARD -m set --match-set blocked src -j DROP
-A FORWARD -m set --match-set svc dst,dst -j ACCEPT
-A FORWARD -p udp -m udp --dport 89 -m set --match-set nets src -j ACCEPT
COMMIT
"""
CONFIG = pcap_router_config() + [
    {"method": "ipset_restore", "params": {"command": SETS}},
    {"method": "iptables_restore", "params": {"text": RULES}},
]


def udp(dport, src=CLIENT):
    return Ether(src=CLIENT_MAC, dst=MAC0) / \
        IP(src=src, dst=SERVER) / UDP(sport=dport, dport=dport) / Raw(b"s")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    packets = [udp(88), udp(89), udp(90), udp(88, src="10.1.0.66")]
    d, out0, out1 = pcap_daemon(tmp_path_factory.mktemp("sets"), packets,
                                CONFIG)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(packets),
                   what="all input received")
        d.wait_for(lambda: d.stats("port1")["tx_packets"] >= 2,
                   what="forwarded packets sent")
        yield d, out1
    finally:
        d.stop()


def ipset(d, cmd):
    r = d.call("ipset", {"command": cmd})
    return r["output"] if isinstance(r, dict) else ""


def test_verdicts(run):
    d, out1 = run
    d.stop()
    got = sorted((p[IP].src, p[UDP].dport) for p in rdpcap(out1) if UDP in p)
    # 88 by svc (ip,port), 89 by nets (hash:net), 90 and the blocked
    # source dropped.
    assert got == [(CLIENT, 88), (CLIENT, 89)]


@pytest.fixture
def d(daemons):
    return daemons(["net_null0", "net_null1"]).start()


def test_commands(d):
    ipset(d, "create s hash:net maxelem 3")
    ipset(d, "add s 10.0.0.0/8")
    ipset(d, "add s 10.1.2.3")
    ipset(d, "add s 10.1.2.3 -exist")
    assert ipset(d, "test s 10.1.2.3") == "10.1.2.3 is in set s.\n"
    ipset(d, "del s 10.1.2.3")
    out = ipset(d, "list s")
    assert "Type: hash:net" in out and "Number of entries: 1" in out
    assert out.endswith("Members:\n10.0.0.0/8\n")
    # -j: the same listing as data.
    listed = json.loads(d.ctl("-j", "ipset", "list", "s").stdout)
    assert listed == [{"name": "s", "type": "hash:net", "entries": 1,
                       "maxelem": 3, "references": 0,
                       "members": ["10.0.0.0/8"]}]
    terse = json.loads(d.ctl("-j", "ipset", "list", "-t").stdout)
    assert [t for t in terse if t["name"] == "s"] == [
        {k: v for k, v in listed[0].items() if k != "members"}]
    r = d.ctl("-j", "ipset", "list", "nosuch", check=False)
    assert r.returncode == 1 and "no set named 'nosuch'" in r.stderr
    assert ipset(d, "save") == (
        "create s hash:net family inet hashsize 1024 maxelem 3\n"
        "add s 10.0.0.0/8\n")
    ipset(d, "flush s")
    assert ipset(d, "save s").count("\n") == 1
    ipset(d, "destroy s")
    assert ipset(d, "list") == ""


BAD = [
    ("create x hash:mac", "is not hash:ip, hash:net or hash:ip,port"),
    ("create a hash:ip", "set a already exists"),
    ("add nope 1.2.3.4", "no set named 'nope'"),
    ("add a 1.2.3.4/24", "is not an entry of hash:ip set a"),
    ("add p 1.2.3.4", "is not an entry of hash:ip,port set p"),
    ("add p 1.2.3.4,sctp:5", "is not an entry"),
    ("add a 1.2.3.4", "1.2.3.4 is already in set a"),
    ("del a 9.9.9.9", "9.9.9.9 is not in set a"),
    ("test a 9.9.9.9", "9.9.9.9 is NOT in set a"),
    ("add full 1.1.1.2", "set full is full"),
    ("create y hash:ip maxelem 0", "maxelem: '0'"),
    ("destroy a", "set a is in use by a rule"),
    ("frobnicate", "unknown command 'frobnicate'"),
]


def test_errors_and_sets_in_use(d):
    ipset(d, "create a hash:ip")
    ipset(d, "create p hash:ip,port")
    ipset(d, "create full hash:ip maxelem 1")
    ipset(d, "add full 1.1.1.1")
    ipset(d, "add a 1.2.3.4")
    d.call("iptables", {"command": "-A FORWARD -m set --match-set a src -j DROP"})
    for cmd, msg in BAD:
        with pytest.raises(RpcError) as e:
            d.call("ipset", {"command": cmd})
            pytest.fail("accepted: " + cmd)
        assert msg in e.value.message, (cmd, e.value.message)
    for cmd, msg in (
            ("-A FORWARD -m set --match-set nope src", "no set named 'nope'"),
            ("-A FORWARD -m set --match-set p src", "takes 2 direction flags"),
            ("-A FORWARD -m set --match-set a up", "is not src|dst")):
        with pytest.raises(RpcError) as e:
            d.call("iptables", {"command": cmd})
        assert msg in e.value.message
    # Once no rule uses it, it can go.
    d.call("iptables", {"command": "-F FORWARD"})
    ipset(d, "destroy a")


def test_saved_config_restores_sets_before_rules(d, tmp_path):
    ipset(d, "create a hash:ip")
    ipset(d, "add a 1.2.3.4")
    d.call("iptables", {"command": "-A FORWARD -m set ! --match-set a dst -j DROP"})
    calls = d.call("save_config")["config"]
    methods = [c["method"] for c in calls]
    assert methods.index("ipset_restore") < methods.index("iptables_restore")
    out = d.ctl("iptables", "-S", "FORWARD").stdout
    assert "-A FORWARD -m set ! --match-set a dst -j DROP" in out
    out = d.ctl("iptables", "-L", "FORWARD", "-n").stdout
    assert "! match-set a dst" in out
