# SPDX-License-Identifier: BSD-3-Clause
"""Connection tracking through the real daemon on net_pcap.

Both hosts sit behind port0 (the router forwards between its two subnets on
one link), so one pcap holds both directions in the order they happen, and
one worker reads it in that order: the conversations are exact.
"""
import re
import subprocess

import pytest
from scapy.all import (ICMP, IP, TCP, UDP, Ether, Raw, IPerror, UDPerror,
                       TCPerror, defragment, fragment, rdpcap)

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER,
                      PCAP_SERVER_MAC as SERVER_MAC, PKTGATECTL, pcap_daemon)

ROUTER_C, ROUTER_S = "10.1.0.1", "10.2.0.1"

HAIRPIN = [
    {"method": "ip_addr_add", "params": {"address": ROUTER_C + "/24",
                                         "port": "port0"}},
    {"method": "ip_addr_add", "params": {"address": ROUTER_S + "/24",
                                         "port": "port0"}},
    {"method": "ip_neigh_add", "params": {"address": CLIENT, "port": "port0",
                                          "mac": CLIENT_MAC}},
    {"method": "ip_neigh_add", "params": {"address": SERVER, "port": "port0",
                                          "mac": SERVER_MAC}},
]

# One rule per state, counting; INVALID is dropped.
STATE_RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -m conntrack --ctstate NEW
-A FORWARD -m conntrack --ctstate ESTABLISHED
-A FORWARD -m conntrack --ctstate RELATED
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir REPLY
COMMIT
"""


def rules_call(text):
    return {"method": "iptables_restore", "params": {"text": text}}


def from_client(l3):
    return Ether(src=CLIENT_MAC, dst=MAC0) / l3


def from_server(l3):
    return Ether(src=SERVER_MAC, dst=MAC0) / l3


class Tcp:
    """One TCP conversation's packets, with sequence numbers kept right."""

    def __init__(self, sport, dport=80, client=CLIENT, server=SERVER):
        self.c, self.s = client, server
        self.sport, self.dport = sport, dport
        self.cseq, self.sseq = 1000, 5000

    def c2s(self, flags, data=b""):
        p = from_client(IP(src=self.c, dst=self.s) / TCP(
            sport=self.sport, dport=self.dport, flags=flags, seq=self.cseq,
            ack=self.sseq if "A" in flags else 0, window=65535) / Raw(data))
        self.cseq += len(data) + ("S" in flags) + ("F" in flags)
        return p

    def s2c(self, flags, data=b""):
        p = from_server(IP(src=self.s, dst=self.c) / TCP(
            sport=self.dport, dport=self.sport, flags=flags, seq=self.sseq,
            ack=self.cseq if "A" in flags else 0, window=65535) / Raw(data))
        self.sseq += len(data) + ("S" in flags) + ("F" in flags)
        return p

    def handshake(self):
        return [self.c2s("S"), self.s2c("SA"), self.c2s("A")]


def tcp_state_packets():
    """Flows stopped at each state (sport -> the state it ends in)."""
    pkts, want = [], {}

    def flow(sport, state, steps):
        t = Tcp(sport)
        for step in steps:
            pkts.extend(step(t))
        want[sport] = state

    flow(1001, "SYN_SENT", [lambda t: [t.c2s("S")]])
    flow(1002, "SYN_RECV", [lambda t: [t.c2s("S"), t.s2c("SA")]])
    flow(1003, "ESTABLISHED", [lambda t: t.handshake(),
                               lambda t: [t.c2s("PA", b"GET /"),
                                          t.s2c("PA", b"200 OK"),
                                          t.c2s("A")]])
    flow(1004, "FIN_WAIT", [lambda t: t.handshake(),
                            lambda t: [t.c2s("FA")]])
    flow(1005, "CLOSE_WAIT", [lambda t: t.handshake(),
                              lambda t: [t.c2s("FA"), t.s2c("A")]])
    flow(1006, "LAST_ACK", [lambda t: t.handshake(),
                            lambda t: [t.c2s("FA"), t.s2c("FA")]])
    flow(1007, "TIME_WAIT", [lambda t: t.handshake(),
                             lambda t: [t.c2s("FA"), t.s2c("FA"),
                                        t.c2s("A")]])
    flow(1008, "CLOSE", [lambda t: t.handshake(),
                         lambda t: [t.c2s("R")]])
    # Picked up mid-stream (tcp_loose): ESTABLISHED, but not for days.
    flow(1009, "ESTABLISHED", [lambda t: [t.c2s("A", b"x")]])
    return pkts, want


# Linux's default timeouts for where each flow ends; a flow picked up
# mid-stream or with unacknowledged data waits 300 s at most.
TIMEOUTS = {1001: 120, 1002: 60, 1003: 432000, 1004: 120, 1005: 60,
            1006: 30, 1007: 120, 1008: 10, 1009: 300}

CT_LINE = re.compile(
    r"^(?P<proto>\w+) +(?P<num>\d+) (?P<timeout>\d+) (?:(?P<state>[A-Z_0-9]+) )?"
    r"src=(?P<src>\S+) dst=(?P<dst>\S+) (?P<rest>.*)$")


def ctl(d, *args):
    r = subprocess.run([PKTGATECTL, "-s", d.sock, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def conntrack_list(d, *filters):
    """{(proto, sport): parsed line} from pktgatectl conntrack -L."""
    r = ctl(d, "conntrack", "-L", *filters)
    out = {}
    for line in r.stdout.splitlines():
        m = CT_LINE.match(line)
        assert m, line
        sport = re.search(r"(?:sport|id)=(\d+)", line).group(1)
        out[(m.group("proto"), int(sport))] = dict(m.groupdict(), line=line)
    assert re.search(r"(\d+) flow entries have been shown", r.stderr)
    return out


def counters(d):
    text = d.call("iptables_save", {"counters": True})["text"]
    return {m.group(3): int(m.group(1)) for m in
            re.finditer(r"\[(\d+):(\d+)\] (.*)", text)}


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    pkts, want = tcp_state_packets()
    # UDP: one unanswered, one answered; ICMP echo and its answer.
    pkts += [from_client(IP(src=CLIENT, dst=SERVER) / UDP(sport=2001,
                                                            dport=53)),
             from_client(IP(src=CLIENT, dst=SERVER) / UDP(sport=2002,
                                                            dport=53)),
             from_server(IP(src=SERVER, dst=CLIENT) / UDP(sport=53,
                                                            dport=2002)),
             from_client(IP(src=CLIENT, dst=SERVER) / ICMP(id=77, seq=1)),
             from_server(IP(src=SERVER, dst=CLIENT) /
                         ICMP(type=0, id=77, seq=1)),
             # RELATED: the server's port unreachable about 2002.
             from_server(IP(src=SERVER, dst=CLIENT) /
                         ICMP(type=3, code=3) / IP(src=CLIENT, dst=SERVER) /
                         UDP(sport=2002, dport=53)),
             # INVALID: an error about nothing we know, an echo reply
             # nobody asked for, a SYN-ACK out of the blue, bad flags.
             from_server(IP(src=SERVER, dst=CLIENT) /
                         ICMP(type=3, code=3) / IP(src=CLIENT, dst=SERVER) /
                         UDP(sport=2999, dport=53)),
             from_server(IP(src=SERVER, dst=CLIENT) /
                         ICMP(type=0, id=78, seq=1)),
             from_client(IP(src=CLIENT, dst=SERVER) /
                         TCP(sport=3001, dport=80, flags="SA")),
             from_client(IP(src=CLIENT, dst=SERVER) /
                         TCP(sport=3002, dport=80, flags="SF"))]
    tmp = tmp_path_factory.mktemp("ctstates")
    d, out0, _ = pcap_daemon(tmp, pkts, HAIRPIN + [rules_call(STATE_RULES)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] >= 12,
                   what="connections")
        listing = conntrack_list(d)
        listing_ext = ctl(d, "conntrack", "-L", "-p", "tcp", "-o",
                          "extended,id").stdout
        count = ctl(d, "conntrack", "-C").stdout
        stats = ctl(d, "conntrack", "-S").stdout
        rules = counters(d)
        drops = d.stats("port0")["drops"]
    finally:
        d.stop()
    return {"want": want, "list": listing, "ext": listing_ext,
            "count": count, "stats": stats, "rules": rules,
            "out": rdpcap(out0), "drops": drops}


def test_tcp_states(states):
    for sport, state in states["want"].items():
        e = states["list"][("tcp", sport)]
        assert e["state"] == state, (sport, e["line"])
        timeout = int(e["timeout"])
        assert TIMEOUTS[sport] - 3 <= timeout <= TIMEOUTS[sport], e["line"]
    line = states["list"][("tcp", 1001)]["line"]
    assert "[UNREPLIED]" in line and "[ASSURED]" not in line
    line = states["list"][("tcp", 1002)]["line"]
    assert "[UNREPLIED]" not in line and "[ASSURED]" not in line
    for sport in (1003, 1004, 1005, 1006, 1007):
        assert "[ASSURED]" in states["list"][("tcp", sport)]["line"]


def test_listing_format_is_conntracks(states):
    line = states["list"][("tcp", 1003)]["line"]
    assert re.fullmatch(
        r"tcp      6 \d+ ESTABLISHED src=10\.1\.0\.2 dst=10\.2\.0\.2 "
        r"sport=1003 dport=80 src=10\.2\.0\.2 dst=10\.1\.0\.2 sport=80 "
        r"dport=1003 \[ASSURED\] mark=0 use=1", line), line
    line = states["list"][("udp", 2001)]["line"]
    assert re.fullmatch(
        r"udp      17 (29|30) src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=2001 "
        r"dport=53 \[UNREPLIED\] src=10\.2\.0\.2 dst=10\.1\.0\.2 sport=53 "
        r"dport=2001 mark=0 use=1", line), line
    line = states["list"][("icmp", 77)]["line"]
    assert re.fullmatch(
        r"icmp     1 (29|30) src=10\.1\.0\.2 dst=10\.2\.0\.2 type=8 code=0 "
        r"id=77 src=10\.2\.0\.2 dst=10\.1\.0\.2 type=0 code=0 id=77 mark=0 "
        r"use=1", line), line
    for line in states["ext"].splitlines():
        assert re.fullmatch(r"ipv4     2 tcp      6 .* use=1 id=\d+", line)
    assert states["count"] == "12\n"
    assert re.match(r"cpu=0   \tfound=\d+ invalid=4 insert=12 ",
                    states["stats"]), states["stats"]


def test_udp_and_icmp(states):
    assert "[UNREPLIED]" in states["list"][("udp", 2001)]["line"]
    line = states["list"][("udp", 2002)]["line"]
    # Answered, but not yet a stream (that takes 2 s): no ASSURED.
    assert "[UNREPLIED]" not in line and "[ASSURED]" not in line
    assert "[UNREPLIED]" not in states["list"][("icmp", 77)]["line"]


def test_states_seen_by_rules(states):
    r = states["rules"]
    # New: 9 TCP first packets, 2 UDP, 1 echo request.
    assert r["-A FORWARD -m conntrack --ctstate NEW"] == 12
    assert r["-A FORWARD -m conntrack --ctstate RELATED"] == 1
    assert r["-A FORWARD -m conntrack --ctstate INVALID -j DROP"] == 4
    assert r["-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir REPLY"] \
        > 0
    # Dropped as invalid: nothing of 2999, 78, 3001, 3002 got out.
    out = states["out"]
    assert not [p for p in out if UDPerror in p and p[UDPerror].sport == 2999]
    assert not [p for p in out if ICMP in p and p[ICMP].id == 78]
    assert not [p for p in out if TCP in p and p[TCP].sport in (3001, 3002)]
    assert [p for p in out if UDPerror in p and p[UDPerror].sport == 2002]
