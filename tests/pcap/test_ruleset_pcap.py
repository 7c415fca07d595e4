# SPDX-License-Identifier: BSD-3-Clause
"""Ruleset verdicts and counters through the real daemon on net_pcap: which
packets leave, which are answered, and what each rule counted."""
import re

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, pcap_daemon,
                      pcap_router_config)

RULES = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -m mac --mac-source 02:00:00:00:01:02
-A PREROUTING -m mac ! --mac-source 02:00:00:00:01:02
-A PREROUTING -m conntrack --ctstate UNTRACKED
-A PREROUTING -m conntrack --ctstate INVALID
-A PREROUTING -m conntrack --ctstate NEW,RELATED,ESTABLISHED
-A PREROUTING -m connmark ! --mark 0x1
-A PREROUTING -m ipvs ! --ipvs
-A PREROUTING -m ipvs ! --vaddr 10.9.9.9/32
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x5/0xffffffff
-A PREROUTING -m addrtype --dst-type LOCAL
-A PREROUTING -m addrtype --dst-type UNICAST
-A FORWARD -p udp -m udp --dport 53 -j TTL --ttl-set 7
-A POSTROUTING -p udp -m udp --dport 99 -j TTL --ttl-dec 10
-A FORWARD -m mac --mac-source 02:00:00:00:01:02
-A POSTROUTING -m mac --mac-source 02:00:00:00:01:02
-A POSTROUTING -s 10.1.0.2/32
-A FORWARD -p tcp -m tcp --dport 80 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1000
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:CHK - [0:0]
:GONE - [0:0]
:OUTCHK - [0:0]
-A INPUT -p icmp -m icmp --icmp-type 8 -m length --length 0:100 -j ACCEPT
-A FORWARD -i port0 -o port1 -p udp -m udp --dport 53 -j ACCEPT
-A FORWARD -p udp -m udp --dport 77 -m limit --limit 1/hour --limit-burst 2 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 22 -j LOG --log-prefix "ssh: " --log-level 6
-A FORWARD -p tcp -m tcp --dport 22 -j DROP
-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -p tcp -m tcp --dport 24 -j REJECT --reject-with tcp-reset
-A FORWARD -m mark --mark 0x5 -j ACCEPT
-A FORWARD -s 10.1.0.2/32 -j CHK
-A FORWARD -p udp -m udp --dport 99 -j ACCEPT
-A FORWARD -p udp -m udp --dport 97 -g GONE
-A FORWARD -f -j ACCEPT
-A OUTPUT -j OUTCHK
-A OUTCHK -i port0
-A OUTCHK ! -i port0
-A CHK -p udp -m udp --dport 99 -j RETURN
-A CHK -p udp -m udp --dport 98 -j DROP
-A GONE -p udp -m udp --sport 1 -j ACCEPT
COMMIT
"""

CONFIG = pcap_router_config() + [
    {"method": "iptables_restore", "params": {"text": RULES}},
]


def l2():
    return Ether(src=CLIENT_MAC, dst=MAC0)


def udp(dport, sport=1000, payload=b"u" * 10):
    return l2() / IP(src=CLIENT, dst=SERVER) / UDP(sport=sport, dport=dport) / \
        Raw(payload)


def tcp(dport, sport=2000, **kw):
    return l2() / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=dport,
                                                   flags="S", **kw)


INPUT = [
    udp(53, sport=1),                   # accepted
    tcp(22),                            # dropped
    tcp(23),                            # rejected: ICMP 3/10
    tcp(24, sport=2424),                # rejected: TCP reset
    udp(54, sport=2),                   # policy DROP
    tcp(80, sport=3, options=[("NOP", None), ("MSS", 1460)]),  # marked
                                        # in mangle, accepted, MSS clamped
    udp(99, sport=4),                   # CHK returns, then accepted
    udp(98, sport=5),                   # dropped in CHK
    udp(97, sport=1),                   # goto GONE: accepted
    udp(97, sport=6),                   # goto GONE, falls off: policy DROP
    l2() / IP(src=CLIENT, dst="10.1.0.1") / ICMP(id=1) / Raw(b"p" * 16),
    l2() / IP(src=CLIENT, dst="10.1.0.1") / ICMP(id=2) / Raw(b"p" * 200),
    l2() / IP(src=CLIENT, dst=SERVER, frag=10, proto=17) / Raw(b"f" * 16),
] + [udp(77, sport=100 + i) for i in range(5)]  # limit: a burst of 2 passes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d, out0, out1 = pcap_daemon(tmp_path_factory.mktemp("rules"), INPUT,
                                CONFIG)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(INPUT),
                   what="all input received")
        d.wait_for(lambda: d.stats("port1")["tx_packets"] >= 7,
                   what="forwarded packets sent")
        saved = d.call("iptables_save", {"counters": True})["text"]
        stats = d.stats("port0")
        # A change elsewhere keeps the counters of rules it did not touch.
        d.ctl("iptables", "-I", "FORWARD", "-p", "tcp", "--dport", "9",
              "-j", "DROP")
        d.ctl("iptables", "-A", "CHK", "-j", "RETURN")
        after = d.call("iptables_save", {"counters": True})["text"]
        d.wait_for(lambda: d.call("ruleset_stats")["log"]["written"] == 1,
                   what="the LOG message written")
        log_stats = d.call("ruleset_stats")["log"]
    finally:
        d.stop()
    return {"out0": rdpcap(out0), "out1": rdpcap(out1),
            "saved": saved, "after": after, "stats": stats,
            "log": d.log(), "log_stats": log_stats}


def counters(text):
    """{rule text: (packets, bytes)} and chain policies."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\[(\d+):(\d+)\] (.*)", line)
        if m:
            out[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        m = re.match(r":(\S+) (\S+) \[(\d+):(\d+)\]", line)
        if m:
            out[":" + m.group(1)] = (int(m.group(3)), int(m.group(4)))
    return out


def test_forwarded_only_what_the_rules_accept(run):
    sports = sorted(p[UDP].sport for p in run["out1"] if UDP in p)
    # dport 53, goto-accept, RETURN path, the limit's burst of two
    assert sports == [1, 1, 4, 100, 101]
    assert [p[TCP].sport for p in run["out1"] if TCP in p] == [3]
    # The rules track connections, so fragments wait for the rest of
    # their datagram (as Linux's defrag): a lone one never leaves.
    assert not [p for p in run["out1"] if IP in p and p[IP].frag == 10]


def test_reject_answers_with_the_chosen_icmp(run):
    icmp = [p for p in run["out0"] if ICMP in p and p[ICMP].type == 3]
    assert len(icmp) == 1
    assert icmp[0][ICMP].code == 10 and icmp[0][IP].dst == CLIENT


def test_input_rules(run):
    replies = [p for p in run["out0"] if ICMP in p and p[ICMP].type == 0]
    assert [p[ICMP].id for p in replies] == [1]


def test_counters(run):
    c = counters(run["saved"])
    assert c["-A FORWARD -i port0 -o port1 -p udp -m udp --dport 53 -j ACCEPT"] == (1, 38)
    assert c["-A FORWARD -p udp -m udp --dport 77 -m limit --limit 1/hour --limit-burst 2 -j ACCEPT"][0] == 2
    assert c["-A FORWARD -p tcp -m tcp --dport 22 -j DROP"] == (1, 40)
    assert c["-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with icmp-host-prohibited"][0] == 1
    assert c["-A FORWARD -p tcp -m tcp --dport 24 -j REJECT --reject-with tcp-reset"][0] == 1
    assert c["-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x5/0xffffffff"][0] == 1
    assert c["-A FORWARD -m mark --mark 0x5 -j ACCEPT"][0] == 1
    # 3 over the limit too; not the fragment held for reassembly
    assert c["-A FORWARD -s 10.1.0.2/32 -j CHK"][0] == 8
    assert c["-A CHK -p udp -m udp --dport 99 -j RETURN"][0] == 1
    assert c["-A CHK -p udp -m udp --dport 98 -j DROP"][0] == 1
    assert c["-A FORWARD -p udp -m udp --dport 97 -g GONE"][0] == 2
    assert c["-A GONE -p udp -m udp --sport 1 -j ACCEPT"][0] == 1
    assert c["-A INPUT -p icmp -m icmp --icmp-type 8 -m length --length 0:100 -j ACCEPT"][0] == 1
    # Every received packet came from the client's MAC; the lone fragment
    # waits for reassembly before any table.
    seen = len(INPUT) - 1
    assert c["-A PREROUTING -m mac --mac-source 02:00:00:00:01:02"][0] == seen
    assert c["-A PREROUTING -m mac ! --mac-source 02:00:00:00:01:02"][0] == 0
    # As Linux's xt_mac, FORWARD sees the sender's MAC and POSTROUTING
    # none, though a forwarded frame keeps its Ethernet header to the end.
    assert c["-A FORWARD -m mac --mac-source 02:00:00:00:01:02"][0] > 0
    assert c["-A POSTROUTING -s 10.1.0.2/32"][0] > 0
    assert c["-A POSTROUTING -m mac --mac-source 02:00:00:00:01:02"][0] == 0
    # The raw table runs before the conntrack lookup: there, as on Linux,
    # a packet has no connection yet and is INVALID (the lone fragment
    # never gets that far); connmark matches nothing, negated or not.
    assert c["-A PREROUTING -m conntrack --ctstate UNTRACKED"][0] == 0
    assert c["-A PREROUTING -m conntrack --ctstate INVALID"][0] == seen
    assert c["-A PREROUTING -m conntrack --ctstate NEW,RELATED,ESTABLISHED"][0] == 0
    assert c["-A PREROUTING -m connmark ! --mark 0x1"][0] == 0
    # No IPVS connections yet: as xt_ipvs for packets outside IPVS.
    assert c["-A PREROUTING -m ipvs ! --ipvs"][0] == seen
    assert c["-A PREROUTING -m ipvs ! --vaddr 10.9.9.9/32"][0] == 0
    # The two pings were for the router itself; the rest to the server.
    assert c["-A PREROUTING -m addrtype --dst-type LOCAL"][0] == 2
    assert c["-A PREROUTING -m addrtype --dst-type UNICAST"][0] == seen - 2
    # Policies: FORWARD dropped dport 54 and the packet GONE let fall off.
    assert c[":FORWARD"][0] == 5       # and the three over the limit
    assert c[":INPUT"][0] == 1          # the big ping
    drops = run["stats"]["drops"]
    # 22, 54, 98, GONE fall-off, big ping, three over the limit
    assert drops["ruleset_drop"] == 8
    assert drops["ruleset_reject"] == 2


def test_counters_survive_other_changes(run):
    before, after = counters(run["saved"]), counters(run["after"])
    for rule, value in before.items():
        assert after[rule] == value, rule
    assert after["-A FORWARD -p tcp -m tcp --dport 9 -j DROP"] == (0, 0)


def test_log_target(run):
    # Written by the management thread, in Linux's format.
    lines = [l for l in run["log"].splitlines() if "ssh: " in l]
    assert lines == ["ssh: IN=port0 OUT=port1 SRC=10.1.0.2 DST=10.2.0.2 "
                     "LEN=40 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=TCP "
                     "SPT=2000 DPT=22 WINDOW=8192 RES=0x00 SYN URGP=0"]
    assert run["log_stats"] == {"posted": 1, "ring_full": 0, "written": 1}
    # Non-terminating: the packet went on to the DROP rule.
    c = counters(run["saved"])
    assert c["-A FORWARD -p tcp -m tcp --dport 22 -j DROP"][0] == 1


def test_ttl_target_rewrites_with_a_valid_checksum(run):
    by_ports = {(p[UDP].sport, p[UDP].dport): p for p in run["out1"]
                if UDP in p}
    for ports, ttl in (((1, 53), 7), ((4, 99), 53)):   # 7; 64 - 1 - 10
        ip = by_ports[ports][IP]
        assert ip.ttl == ttl
        fresh = ip.copy()
        del fresh.chksum
        assert IP(bytes(fresh)).chksum == ip.chksum


def test_reject_with_tcp_reset(run):
    [rst] = [p for p in run["out0"] if TCP in p]
    assert rst[IP].src == SERVER and rst[IP].dst == CLIENT
    assert (rst[TCP].sport, rst[TCP].dport) == (24, 2424)
    # A SYN without ACK: the reset acknowledges it (seq 0 + SYN).
    assert rst[TCP].flags == "RA" and rst[TCP].seq == 0 and rst[TCP].ack == 1
    fresh = rst[TCP].copy()
    del fresh.chksum
    assert TCP(bytes(IP(src=SERVER, dst=CLIENT, proto=6) / fresh)[20:]).chksum \
        == rst[TCP].chksum
    assert run["stats"]["tcp_resets_out"] == 1


def test_tcpmss_lowers_the_mss_with_a_valid_checksum(run):
    [syn] = [p for p in run["out1"] if TCP in p]
    assert dict(syn[TCP].options)["MSS"] == 1000
    fresh = syn[TCP].copy()
    del fresh.chksum
    assert TCP(bytes(IP(src=CLIENT, dst=SERVER, proto=6) / fresh)[20:]).chksum \
        == syn[TCP].chksum


def test_locally_generated_packets_have_no_input_interface(run):
    # A user chain may use -i even when OUTPUT jumps to it: pktgate's own
    # packets (the echo reply, the ICMP error, the TCP reset) come from no
    # interface, so only the negated match counts them.
    c = counters(run["saved"])
    assert c["-A OUTCHK -i port0"][0] == 0
    assert c["-A OUTCHK ! -i port0"][0] == 3
