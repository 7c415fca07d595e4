# SPDX-License-Identifier: BSD-3-Clause
"""A corpus of hostile and malformed frames through the daemon on net_pcap
with a ruleset that exercises many matches and targets: nothing crashes,
malformed input is counted by reason, and every packet buffer comes back."""
import random

import pytest
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption,
                       Raw, fragment)

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, pcap_daemon,
                      pcap_router_config)

RULES = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack
-A PREROUTING -m mac --mac-source 02:00:00:00:01:02 -m addrtype --dst-type UNICAST
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --tcp-flags SYN,ACK SYN -j MARK --set-xmark 0x1/0xff
-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 536
-A FORWARD -m ttl --ttl-lt 5 -j TTL --ttl-set 5
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:SCAN - [0:0]
-A FORWARD -p tcp -m tcp --tcp-flags ALL NONE -j SCAN
-A FORWARD -p tcp -m tcp --tcp-flags ALL ALL -j SCAN
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -p tcp -m tcp --tcp-option 2 -m mark --mark 0x1/0xff -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset
-A FORWARD -p udp -m multiport --dports 9,19 -j REJECT
-A FORWARD -m set --match-set bad src -j DROP
-A FORWARD -f -m length --length 0:100 -j DROP
-A FORWARD -p icmp -m icmp --icmp-type 3 -j LOG --log-prefix "icmp-err: "
-A SCAN -m limit --limit 10/sec -j LOG --log-prefix "scan: "
-A SCAN -j DROP
COMMIT
"""

CONFIG = pcap_router_config() + [
    {"method": "ipset_restore", "params": {
        "command": "create bad hash:ip\nadd bad 10.1.0.66\n"}},
    {"method": "iptables_restore", "params": {"text": RULES}},
]


def l2():
    return Ether(src=CLIENT_MAC, dst=MAC0)


def corpus():
    rng = random.Random(7)
    good = l2() / IP(src=CLIENT, dst=SERVER) / UDP(sport=1, dport=2) / \
        Raw(b"x" * 30)
    raw = bytes(good)
    # The first packet sets the pcap's link type (Ethernet).
    pkts = [good]
    # Truncated at every length (shorter than Ethernet: raw bytes).
    pkts += [Ether(raw[:n]) if n >= 14 else Raw(raw[:n])
             for n in range(1, len(raw), 3)]
    # Random garbage in each header byte.
    for i in range(14, 42):
        b = bytearray(raw)
        b[i] = rng.randrange(256)
        pkts.append(Ether(bytes(b)))
    # IP options, every TCP flag combination, odd TCP headers.
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER, options=[
        IPOption(b"\x07\x07\x04\x00\x00\x00\x00")]) / UDP())
    pkts += [l2() / IP(src=CLIENT, dst=SERVER) /
             TCP(sport=1000, dport=23 if f & 1 else 80, flags=f,
                 options=[("MSS", 1460)] if f & 2 else [])
             for f in range(256)]
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER, proto=6) / Raw(b"\x00" * 7))
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER) /
                TCP(dataofs=15, flags="S") / Raw(b"\x02" * 3))
    # Tiny, overlapping and out-of-order fragments.
    big = IP(src=CLIENT, dst=SERVER, id=77) / UDP(sport=5, dport=6) / \
        Raw(b"f" * 300)
    frags = fragment(big, fragsize=8)
    pkts += [l2() / f for f in frags[::-1]]
    pkts += [l2() / IP(src=CLIENT, dst=SERVER, id=78, flags="MF", frag=1) /
             Raw(b"o" * 16) for _ in range(3)]
    # ICMP errors quoting garbage, to the router and through it.
    for dst in ("10.1.0.1", SERVER):
        pkts.append(l2() / IP(src=CLIENT, dst=dst) / ICMP(type=3, code=3) /
                    Raw(bytes(rng.randrange(256) for _ in range(20))))
        pkts.append(l2() / IP(src=CLIENT, dst=dst) / ICMP(type=11) /
                    Raw(b""))
    # Zero and maximal lengths, broadcast and multicast, VLAN, jumbo.
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER, len=20, proto=17))
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER) / UDP() /
                Raw(b"m" * 1472))
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER, flags="DF") / UDP() /
                Raw(b"j" * 8000))
    pkts.append(Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
                IP(src=CLIENT, dst="255.255.255.255") / UDP())
    pkts.append(Ether(src=CLIENT_MAC, dst="01:00:5e:00:00:05") /
                IP(src=CLIENT, dst="224.0.0.5") / UDP())
    pkts.append(l2() / Dot1Q(vlan=7) / IP(src=CLIENT, dst=SERVER) / UDP())
    pkts.append(l2() / IP(src="10.1.0.66", dst=SERVER) / UDP(dport=9))
    pkts.append(l2() / IP(src=CLIENT, dst=SERVER) / UDP(dport=19))
    pkts.append(l2() / IP(src="0.0.0.0", dst=SERVER) / UDP())
    pkts.append(l2() / IP(src=CLIENT, dst="127.0.0.1") / UDP())
    pkts.append(l2() / ARP(op=1, psrc=CLIENT, pdst="10.1.0.1",
                           hwsrc=CLIENT_MAC))
    pkts.append(l2() / ARP(op=9) / Raw(b"zz"))
    pkts.append(Ether(dst=MAC0, type=0x88cc) / Raw(b"lldp"))
    return pkts


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pkts = corpus()
    d, out0, out1 = pcap_daemon(tmp_path_factory.mktemp("malformed"), pkts,
                                CONFIG)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   timeout=20, what="the whole corpus received")
        st = d.stats("port0")
        alive = d.call("system_info")
    finally:
        status = d.stop()
    return {"stats": st, "alive": alive, "status": status, "log": d.log(),
            "n": len(pkts)}


def test_survives_and_returns_every_buffer(run):
    assert run["alive"]["nb_workers"] == 1
    assert run["status"] == 0
    assert "packet buffers returned" in run["log"]
    assert "not returned" not in run["log"]


def test_malformed_input_is_counted_by_reason(run):
    drops = run["stats"]["drops"]
    for reason in ("l2_truncated", "ip_truncated", "ip_bad_checksum",
                   "ip_bad_length", "vlan_tagged", "ethertype_unsupported",
                   "arp_malformed", "ip_martian_source",
                   "ip_martian_destination", "ruleset_drop",
                   "ruleset_reject", "l2_multicast", "frag_needed_df"):
        assert drops[reason] > 0, reason
    # The scan rules logged under their limit, and nothing blocked a worker.
    assert "scan: " in run["log"]
