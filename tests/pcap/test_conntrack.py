# SPDX-License-Identifier: BSD-3-Clause
"""Connection tracking through the real daemon on net_pcap.

Both hosts sit behind port0 (the router forwards between its two subnets on
one link), so one pcap holds both directions in the order they happen, and
one worker reads it in that order: the conversations are exact.
"""
import json
import re
import subprocess
import time

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
    # Closed in the first receive burst (of 32), opened again by a SYN in
    # the second: the connection lookups made for the whole second burst,
    # before its packets are taken one at a time, find the old connection
    # for the SYN, the SYN-ACK and the ACK; the SYN ends it and starts a
    # new one, so the SYN-ACK and the ACK must be looked up again.
    t = Tcp(1010)
    pkts[:0] = t.handshake() + [t.c2s("FA"), t.s2c("FA"), t.c2s("A")]
    assert len(pkts) == 40
    pkts.extend(t.handshake())
    want[1010] = "ESTABLISHED"
    return pkts, want


# Linux's default timeouts for where each flow ends; a flow picked up
# mid-stream or with unacknowledged data waits 300 s at most.
TIMEOUTS = {1001: 120, 1002: 60, 1003: 432000, 1004: 120, 1005: 60,
            1006: 30, 1007: 120, 1008: 10, 1009: 300,
            1010: 432000}

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


def state_traffic():
    """Packets in every conntrack state, and the TCP states their flows
    end in (tcp_state_packets())."""
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
    return pkts, want


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    pkts, want = state_traffic()
    tmp = tmp_path_factory.mktemp("ctstates")
    d, out0, _ = pcap_daemon(tmp, pkts, HAIRPIN + [rules_call(STATE_RULES)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] >= 13,
                   what="connections")
        listing = conntrack_list(d)
        listing_ext = ctl(d, "conntrack", "-L", "-p", "tcp", "-o",
                          "extended,id").stdout
        count = ctl(d, "conntrack", "-C").stdout
        as_json = json.loads(ctl(d, "-j", "conntrack", "-L").stdout)
        stats = ctl(d, "conntrack", "-S").stdout
        rules = counters(d)
        drops = d.stats("port0")["drops"]
    finally:
        d.stop()
    return {"want": want, "list": listing, "ext": listing_ext,
            "count": count, "stats": stats, "rules": rules,
            "json": as_json,
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
    assert states["count"] == "13\n"
    assert re.match(r"cpu=0   \tfound=\d+ invalid=4 insert=14 ",
                    states["stats"]), states["stats"]


def test_json_listing_matches_the_text(states):
    conns = states["json"]
    assert len(conns) == len(states["list"]) == 13
    by_key = {(c["proto"], c["original"].get("sport", c["original"].get("id"))):
              c for c in conns}
    assert set(by_key) == set(states["list"])
    c = by_key[("tcp", 1003)]
    assert c["state"] == "ESTABLISHED" and c["assured"] and c["seen_reply"]
    assert c["original"] == {"src": "10.1.0.2", "dst": "10.2.0.2",
                             "sport": 1003, "dport": 80}
    assert c["reply"] == {"src": "10.2.0.2", "dst": "10.1.0.2",
                          "sport": 80, "dport": 1003}
    icmp = by_key[("icmp", 77)]["original"]
    assert (icmp["type"], icmp["code"]) == (8, 0)
    assert not by_key[("udp", 2001)]["seen_reply"]


def test_udp_and_icmp(states):
    assert "[UNREPLIED]" in states["list"][("udp", 2001)]["line"]
    line = states["list"][("udp", 2002)]["line"]
    # Answered, but not yet a stream (that takes 2 s): no ASSURED.
    assert "[UNREPLIED]" not in line and "[ASSURED]" not in line
    assert "[UNREPLIED]" not in states["list"][("icmp", 77)]["line"]


def test_states_seen_by_rules(states):
    r = states["rules"]
    # New: 11 TCP first packets (1010 has two), 2 UDP, 1 echo request.
    assert r["-A FORWARD -m conntrack --ctstate NEW"] == 14
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


# A built-in chain whose first rule looks at the conntrack state alone is
# decided for the states it names without a walk (pgt_match_ops.state_only):
# each such rule must count what the same match counts when walked, in a
# user chain mangle's FORWARD jumps to before them, for every state (NOTRACK
# makes UNTRACKED ones): plain, listed, negated, -m state, ACCEPT and DROP.
LEADS = [("filter", "FORWARD", "-m conntrack --ctstate RELATED,ESTABLISHED",
          "ACCEPT"),
         ("security", "FORWARD", "-m state --state NEW,UNTRACKED", "ACCEPT"),
         ("mangle", "POSTROUTING",
          "-m conntrack ! --ctstate NEW,RELATED,ESTABLISHED", "DROP")]
LEAD_RULES = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
    "-A PREROUTING -p udp -m udp --dport 9999 -j CT --notrack\nCOMMIT\n" \
    "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n" \
    ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
    ":POSTROUTING ACCEPT [0:0]\n:WALK - [0:0]\n-A FORWARD -j WALK\n" + \
    "".join("-A WALK %s\n" % m for _, _, m, _ in LEADS) + \
    "-A POSTROUTING %s -j %s\nCOMMIT\n" % LEADS[2][2:] + \
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n" \
    ":OUTPUT ACCEPT [0:0]\n-A FORWARD %s -j %s\nCOMMIT\n" % LEADS[0][2:] + \
    "*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n" \
    ":OUTPUT ACCEPT [0:0]\n-A FORWARD %s -j %s\nCOMMIT\n" % LEADS[1][2:]


def test_leading_state_rules_count_as_walked(tmp_path):
    pkts, _ = state_traffic()
    pkts += [from_client(IP(src=CLIENT, dst=SERVER) / UDP(sport=4000 + i,
                                                            dport=9999))
             for i in range(3)]
    d, _, _ = pcap_daemon(tmp_path, pkts, HAIRPIN + [rules_call(LEAD_RULES)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        text = d.call("iptables_save", {"counters": True})["text"]
    finally:
        d.stop()
    counted = {m.group(3): (int(m.group(1)), int(m.group(2))) for m in
               re.finditer(r"\[(\d+):(\d+)\] (.*)", text)}
    for _, chain, match, target in LEADS:
        walked = counted["-A WALK " + match]
        assert walked[0] > 0, match
        assert counted["-A %s %s -j %s" % (chain, match, target)] == walked


# NAT: the client's connections leave as the router's server-side address;
# the router's client-side address port 8080 leads to the server's 80.
NAT_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.1.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.2.0.2:80
-A POSTROUTING -s 10.1.0.0/24 -d 10.2.0.0/24 -p udp -j SNAT --to-source 10.2.0.1
-A POSTROUTING -s 10.1.0.0/24 -d 10.2.0.0/24 -p icmp -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -p tcp --dport 80 -j ACCEPT
-A FORWARD -s 10.1.0.0/24 -p udp -j ACCEPT
-A FORWARD -s 10.1.0.0/24 -p icmp -j ACCEPT
-A FORWARD -p tcp --dport 81 -j REJECT --reject-with tcp-reset
COMMIT
"""


def nat_packets():
    t = Tcp(4001, dport=8080, server=ROUTER_C)
    syn = t.c2s("S")
    # The server answers the translated connection.
    s = Tcp(4001, dport=80)
    s.cseq, s.sseq = t.cseq, t.sseq
    synack = s.s2c("SA")
    t.sseq = s.sseq
    ack = t.c2s("A")
    return [
        syn, synack, ack,
        # UDP out, its answer to the router's address, an error about it.
        from_client(IP(src=CLIENT, dst=SERVER) / UDP(sport=5001, dport=53) /
                    Raw(b"q")),
        from_server(IP(src=SERVER, dst=ROUTER_S) / UDP(sport=53, dport=5001) /
                    Raw(b"a")),
        from_server(IP(src=SERVER, dst=ROUTER_S) / ICMP(type=3, code=3) /
                    IP(src=ROUTER_S, dst=SERVER) / UDP(sport=5001, dport=53)),
        # A ping, masqueraded, and its answer.
        from_client(IP(src=CLIENT, dst=SERVER) / ICMP(id=99, seq=1)),
        from_server(IP(src=SERVER, dst=ROUTER_S) / ICMP(type=0, id=99, seq=1)),
        # Rejected with a reset after DNAT: the reset comes from the
        # address the client used.
        from_client(IP(src=CLIENT, dst=SERVER) / TCP(sport=4002, dport=81,
                                                      flags="S", seq=7)),
    ]


def fast_path_traffic():
    """Every state, NAT both ways, and established packets the fast path
    of confirmed connections must leave to the general one: TTL 1, too
    big for port0's MTU (with DF, and without: fragmented)."""
    pkts, _ = state_traffic()
    pkts += nat_packets()
    est = IP(src=CLIENT, dst=SERVER) / UDP(sport=2002, dport=53)
    pkts += [from_client(est / Raw(b"x" * 10)),
             from_client(IP(src=CLIENT, dst=SERVER, ttl=1) /
                         UDP(sport=2002, dport=53)),
             from_client(IP(src=CLIENT, dst=SERVER, flags="DF") /
                         UDP(sport=2002, dport=53) / Raw(b"d" * 1200)),
             from_client(est / Raw(b"f" * 1200)),
             from_server(IP(src=SERVER, dst=CLIENT) /
                         UDP(sport=53, dport=2002) / Raw(b"y" * 10))]
    return pkts


def replay_counted(tmp, pkts, rules):
    tmp.mkdir()
    d, out0, _ = pcap_daemon(tmp, pkts, HAIRPIN + [
        {"method": "port_set", "params": {"port": "port0", "mtu": 1000}},
        rules_call(rules)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] >= 16,
                   what="connections")
        time.sleep(0.5)
        stats = d.stats("port0")
        saved = d.call("iptables_save", {"counters": True})["text"]
        listing = sorted(re.sub(r"^(\w+ +\d+) \d+ ", r"\1 ", line)
                         for line in ctl(d, "conntrack", "-L").stdout
                         .splitlines())
    finally:
        d.stop()
    return {"out": sorted(bytes(p) for p in rdpcap(out0)), "stats": stats,
            "filter": re.findall(r"\[\d+:\d+\] -A FORWARD .*",
                                 saved.split("*filter")[1]),
            "list": listing}


def test_established_fast_path_forwards_the_same(tmp_path):
    """With conntrack and NAT at PREROUTING, one FORWARD table and NAT at
    POSTROUTING, a confirmed connection's packet that nothing translates
    and the FORWARD table's first rule accepts by its state is forwarded
    without the hooks' walk; a mangle FORWARD rule that matches nothing
    sends every packet through the general path. Both must send the same
    frames, count the same and leave the same connections."""
    pkts = fast_path_traffic()
    # NAT_RULES, letting every new connection through.
    rules = NAT_RULES.replace(
        "-j ACCEPT\n", "-j ACCEPT\n-A FORWARD -m conntrack --ctstate NEW "
        "-j ACCEPT\n", 1)
    fast = replay_counted(tmp_path / "fast", pkts, rules)
    general = replay_counted(
        tmp_path / "general", pkts, rules +
        "*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p gre\nCOMMIT\n")
    assert fast["out"] == general["out"]
    assert fast["filter"] == general["filter"]
    for key in ("forwarded", "rx_packets", "rx_bytes", "tx_packets",
                "tx_bytes", "drops_total", "drops"):
        assert fast["stats"][key] == general["stats"][key], key
    assert fast["list"] == general["list"]
    # It saw what it was for: established packets accepted by the first
    # rule, fragments, an error for TTL 1 and for DF.
    assert int(re.match(r"\[(\d+):", fast["filter"][0]).group(1)) > 20
    assert any(IP(p[14:]).flags.MF for p in fast["out"] if p[12:14] ==
               b"\x08\x00")


def checksums_ok(p):
    """Does every checksum of @p match a recomputation?"""
    q = p.__class__(bytes(p))
    for layer in (IP, TCP, UDP, ICMP, IPerror, UDPerror):
        if layer in q and layer in p:
            fresh = q.copy()
            del fresh[layer].chksum
            fresh = fresh.__class__(bytes(fresh))
            if fresh[layer].chksum != q[layer].chksum:
                return False
    return True


@pytest.fixture(scope="module")
def nat(tmp_path_factory):
    pkts = nat_packets()
    tmp = tmp_path_factory.mktemp("ctnat")
    d, out0, _ = pcap_daemon(tmp, pkts, HAIRPIN + [rules_call(NAT_RULES)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.stats("port0")["tx_packets"] >= len(pkts),
                   what="all output sent")
        listing = ctl(d, "conntrack", "-L", "-j").stdout
        snat = ctl(d, "conntrack", "-L", "-n").stdout
        dnat = ctl(d, "conntrack", "-L", "-g").stdout
    finally:
        d.stop()
    return {"out": rdpcap(out0), "list": listing, "snat": snat,
            "dnat": dnat}


def test_dnat_both_ways(nat):
    out = nat["out"]
    to_server = [p for p in out if TCP in p and p[IP].dst == SERVER and
                 p[TCP].sport == 4001]
    assert [p[TCP].dport for p in to_server] == [80, 80]
    assert all(p[IP].src == CLIENT for p in to_server)
    to_client = [p for p in out if TCP in p and p[IP].dst == CLIENT and
                 p[TCP].dport == 4001]
    assert len(to_client) == 1
    assert to_client[0][IP].src == ROUTER_C and to_client[0][TCP].sport == 8080
    assert all(checksums_ok(p) for p in to_server + to_client)
    assert "dst=10.1.0.1 sport=4001 dport=8080 src=10.2.0.2 dst=10.1.0.2 " \
        "sport=80 dport=4001" in nat["dnat"]


def test_snat_both_ways_and_icmp_error_inside(nat):
    out = nat["out"]
    q = [p for p in out if UDP in p and p[IP].dst == SERVER]
    assert len(q) == 1 and q[0][IP].src == ROUTER_S and q[0][UDP].sport == 5001
    a = [p for p in out if UDP in p and IPerror not in p and
         p[IP].dst == CLIENT]
    assert len(a) == 1 and a[0][UDP].dport == 5001 and a[0][IP].src == SERVER
    err = [p for p in out if ICMP in p and p[ICMP].type == 3 and
           UDPerror in p]
    assert len(err) == 1
    # Outer and quoted packet both translated back to the client's view.
    assert err[0][IP].dst == CLIENT
    assert err[0][IPerror].src == CLIENT and err[0][UDPerror].sport == 5001
    assert all(checksums_ok(p) for p in q + a + err)
    assert "src=10.2.0.2 dst=10.2.0.1 sport=53 dport=5001" in nat["snat"]


def test_masquerade_ping(nat):
    out = nat["out"]
    req = [p for p in out if ICMP in p and p[ICMP].type == 8]
    rep = [p for p in out if ICMP in p and p[ICMP].type == 0]
    assert len(req) == 1 and req[0][IP].src == ROUTER_S
    assert len(rep) == 1 and rep[0][IP].dst == CLIENT and rep[0][ICMP].id == 99
    assert all(checksums_ok(p) for p in req + rep)


def test_reset_of_new_connection(nat):
    rst = [p for p in nat["out"] if TCP in p and "R" in p[TCP].flags]
    assert len(rst) == 1
    assert rst[0][IP].dst == CLIENT and rst[0][TCP].dport == 4002
    # Rejected before confirmation: no entry stays behind.
    assert "sport=4002" not in nat["list"]


def udp_flood(n, sport0=10000):
    return [from_client(IP(src=CLIENT, dst=SERVER) /
                        UDP(sport=sport0 + i, dport=9)) for i in range(n)]


def test_table_full_early_drop_then_drop(tmp_path):
    """Full of unassured entries: the oldest go (early drop). Full of
    assured ones: the new packet is dropped, counted."""
    assured = []
    for i in range(16):
        assured += Tcp(6000 + i).handshake()
    pkts = udp_flood(20) + assured + udp_flood(3, sport0=20000)
    d, _, _ = pcap_daemon(tmp_path, pkts, HAIRPIN + [rules_call(
        "*filter\n:FORWARD ACCEPT [0:0]\n"
        "-A FORWARD -m conntrack --ctstate NEW\nCOMMIT\n")],
        extra=("--conntrack-max", "16"))
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.stats("port0")["drops"].get(
            "conntrack_table_full", 0) == 3, what="table-full drops")
        stats = ctl(d, "conntrack", "-S").stdout
        count = int(ctl(d, "conntrack", "-C").stdout)
        listing = conntrack_list(d)
    finally:
        d.stop()
    assert count == 16
    assert sorted(k[1] for k in listing) == list(range(6000, 6016))
    # 4 UDP evicted for UDP, 16 for the TCP handshakes' room.
    assert re.search(r" drop=3 early_drop=20 ", stats), stats


def test_survivors_found_after_evictions_around_them(tmp_path):
    """1,024 connections fill the table (2,048 keys on 2,048 chains, so
    most chains hold several), TCP and UDP in turn; 512 new ones evict the
    512 UDP ones, which expire first, from the middle of the chains; then
    the answers of every survivor must find it: whatever was removed from
    a chain, the rest of the chain is still there."""
    tcp = [Tcp(40000 + i) for i in range(512)]
    udp = udp_flood(512)
    old = [p for pair in zip((t.c2s("S") for t in tcp), udp) for p in pair]
    new = udp_flood(512, sport0=30000)
    answers = [t.s2c("SA") for t in tcp] + [
        from_server(IP(src=SERVER, dst=CLIENT) /
                    UDP(sport=9, dport=p[UDP].sport)) for p in new]
    pkts = old + new + answers
    d, _, _ = pcap_daemon(tmp_path, pkts, HAIRPIN + [rules_call(
        "*filter\n:FORWARD ACCEPT [0:0]\n"
        "-A FORWARD -m conntrack --ctstate NEW\n"
        "-A FORWARD -m conntrack --ctstate ESTABLISHED\nCOMMIT\n")],
        extra=("--conntrack-max", "1024"))
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.stats("port0")["forwarded"] +
                   d.stats("port0")["drops_total"] == len(pkts),
                   what="all handled")
        port = d.stats("port0")
        stats = ctl(d, "conntrack", "-S").stdout
        seen = counters(d)
        listing = conntrack_list(d)
    finally:
        d.stop()
    assert port["drops_total"] == 0, port["drops"]
    assert " drop=0 early_drop=512 " in stats, stats
    assert seen["-A FORWARD -m conntrack --ctstate NEW"] == 1536
    assert seen["-A FORWARD -m conntrack --ctstate ESTABLISHED"] == 1024
    assert sorted(listing) == [("tcp", 40000 + i) for i in range(512)] + \
        [("udp", 30000 + i) for i in range(512)]


def datagram(ident, size, sport):
    return IP(src=CLIENT, dst=SERVER, id=ident) / UDP(sport=sport, dport=7) / \
        Raw(bytes((i * 7 + ident) & 0xff for i in range(size)))


def test_fragments_reassembled_then_refragmented(tmp_path):
    whole = datagram(1, 3000, 7001)
    in_order = fragment(whole, fragsize=1000)
    backwards = fragment(datagram(2, 3000, 7002), fragsize=1000)[::-1]
    small = fragment(datagram(3, 1200, 7003), fragsize=600)
    # Overlapping: the second fragment covers part of the first.
    over = fragment(datagram(4, 1600, 7004), fragsize=800)
    over[1].frag -= 10
    too_many = fragment(datagram(5, 2000, 7005), fragsize=200)   # 11
    pkts = [from_client(f) for f in in_order + backwards + small + over +
            too_many]
    d, out0, _ = pcap_daemon(tmp_path, pkts, HAIRPIN + [rules_call(
        "*filter\n:FORWARD ACCEPT [0:0]\n"
        "-A FORWARD -m conntrack --ctstate NEW\nCOMMIT\n")])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: d.stats("port0")["reassembled"] == 3,
                   what="three datagrams reassembled")
        # The overlap kills its datagram; the ninth fragment of the other
        # kills the eight before it (the last ones start a datagram of
        # their own that waits out its 30 s).
        d.wait_for(lambda: d.stats("port0")["drops"]["reassembly_failed"] ==
                   len(over) + 8, what="the rest dropped")
        stats = d.stats("port0")
    finally:
        d.stop()
    out = rdpcap(out0)
    assert stats["fragments_out"] >= 6
    by_id = {}
    for p in (p for p in out if IP in p):
        by_id.setdefault(p[IP].id, []).append(p[IP])
    assert sorted(by_id) == [1, 2, 3]
    # Big ones leave refragmented to the port's MTU; the small one whole.
    for ident in (1, 2):
        assert all(len(f) <= 1500 for f in by_id[ident])
        assert len(by_id[ident]) == 3
        joined = defragment(by_id[ident])
        assert len(joined) == 1
        assert bytes(joined[0][UDP].payload) == \
            bytes(datagram(ident, 3000, 7000 + ident)[UDP].payload)
    assert len(by_id[3]) == 1 and by_id[3][0].flags.MF == 0
    assert bytes(by_id[3][0][UDP].payload) == \
        bytes(datagram(3, 1200, 7003)[UDP].payload)


def test_timeouts_expire_and_commands(tmp_path):
    pkts = udp_flood(5) + [
        from_client(IP(src=CLIENT, dst=SERVER) / ICMP(id=5, seq=1))] + \
        Tcp(8001).handshake()
    config = HAIRPIN + [
        rules_call("*filter\n:FORWARD ACCEPT [0:0]\n"
                   "-A FORWARD -m conntrack --ctstate NEW\nCOMMIT\n"),
        {"method": "conntrack_config_set",
         "params": {"udp_timeout": 3, "icmp_timeout": 3,
                    "tcp_timeout_established": 7777}}]
    d, _, _ = pcap_daemon(tmp_path, pkts, config)
    try:
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] == 7,
                   what="seven connections")
        listing = conntrack_list(d)
        assert 7770 <= int(listing[("tcp", 8001)]["timeout"]) <= 7777
        assert int(listing[("udp", 10000)]["timeout"]) <= 3
        saved = d.call("save_config")
        # -D with a filter deletes what matches, nothing else.
        r = ctl(d, "conntrack", "-D", "-p", "udp", "--sport", "10002")
        assert "sport=10002" in r.stdout
        assert "1 flow entries have been deleted" in r.stderr
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] == 6,
                   what="one deleted")
        # UDP and ICMP time out; TCP stays.
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] == 1,
                   timeout=8, what="short timeouts expired")
        assert list(conntrack_list(d)) == [("tcp", 8001)]
        stats = ctl(d, "conntrack", "-S").stdout
        r = ctl(d, "conntrack", "-F")
        assert "table has been emptied" in r.stderr
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] == 0,
                   what="flushed")
        bad = subprocess.run([PKTGATECTL, "-s", d.sock, "conntrack", "-L",
                              "-p", "nonsense"], capture_output=True,
                             text=True)
        assert bad.returncode != 0 and "not a protocol" in bad.stderr
        bad = subprocess.run([PKTGATECTL, "-s", d.sock, "conntrack", "-I"],
                             capture_output=True, text=True)
        assert bad.returncode != 0 and "not supported" in bad.stderr
    finally:
        d.stop()
    assert " expired=5 " in stats
    calls = [c for c in saved["config"]
             if c["method"] == "conntrack_config_set"]
    assert calls == [{"method": "conntrack_config_set", "params": {
        "udp_timeout": 3, "icmp_timeout": 3,
        "tcp_timeout_established": 7777}}]


def write_udp_pcap(path, n):
    """@n UDP packets of distinct flows, written without scapy (fast)."""
    import struct
    eth = bytes.fromhex(MAC0.replace(":", "")) + \
        bytes.fromhex(CLIENT_MAC.replace(":", "")) + b"\x08\x00"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            src = 0x0a010002
            dst = 0x0a020000 | (2 + i // 60000)
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, 28, i & 0xffff, 0, 64,
                             17, 0, src, dst)
            s = sum(struct.unpack("!10H", ip))
            s = (s & 0xffff) + (s >> 16)
            s = (s & 0xffff) + (s >> 16)
            ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
            udp = struct.pack("!HHHH", 1024 + i % 60000, 9, 8, 0)
            frame = eth + ip + udp
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)))
            f.write(frame)


def test_100k_connections_listed(tmp_path):
    n = 100000
    path = tmp_path / "flows.pcap"
    write_udp_pcap(path, n)
    config = HAIRPIN + [
        {"method": "ip_neigh_add", "params": {"address": "10.2.0.3",
                                              "port": "port0",
                                              "mac": SERVER_MAC}},
        rules_call("*filter\n:FORWARD ACCEPT [0:0]\n"
                   "-A FORWARD -m conntrack --ctstate NEW\nCOMMIT\n"),
        {"method": "conntrack_config_set", "params": {"udp_timeout": 600}}]
    d, _, _ = pcap_daemon(tmp_path, str(path), config,
                          extra=("--conntrack-max", "131072"))
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == n, timeout=60,
                   what="all flows received")
        d.wait_for(lambda: d.call("conntrack_config_get")["count"] == n,
                   what="every flow tracked")
        r = ctl(d, "conntrack", "-L", "-p", "udp")
        stats = ctl(d, "conntrack", "-S").stdout
        count = ctl(d, "conntrack", "-C").stdout
    finally:
        d.stop()
    lines = r.stdout.splitlines()
    assert len(lines) == n
    assert f"{n} flow entries have been shown" in r.stderr
    assert len(set(re.search(r"dst=(\S+) sport=(\d+)", l).groups()
                   for l in lines)) == n
    assert count == f"{n}\n"
    assert " insert_failed=0 drop=0 early_drop=0 " in stats


def test_snat_of_many_clients_on_one_port(tmp_path):
    """Clients that all use one source port to one server, SNATed to one
    address: each needs another port, and finds one (the search starts at
    a place of the client's own, not one per server)."""
    n = 1000
    pkts = [from_client(IP(src="10.1.%d.%d" % (2 + i // 250, 1 + i % 250),
                           dst=SERVER) / UDP(sport=40000, dport=53))
            for i in range(n)]
    d, out0, _ = pcap_daemon(tmp_path, pkts, HAIRPIN + [
        {"method": "ip_route_add", "params": {"prefix": "10.1.0.0/16",
                                              "gateway": CLIENT}},
        rules_call("*nat\n:POSTROUTING ACCEPT [0:0]\n"
                   "-A POSTROUTING -d 10.2.0.0/24 -j SNAT --to-source "
                   "10.2.0.1\nCOMMIT\n")])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == n,
                   what="all input received")
        d.wait_for(lambda: d.stats("port0")["tx_packets"] +
                   d.stats("port0")["drops_total"] >= n, what="all handled")
        drops = d.stats("port0")["drops"]
    finally:
        d.stop()
    out = [p for p in rdpcap(out0) if UDP in p]
    assert drops.get("nat_no_port", 0) == 0
    assert len(out) == n
    assert len({p[UDP].sport for p in out}) == n
    assert {p[IP].src for p in out} == {ROUTER_S}
