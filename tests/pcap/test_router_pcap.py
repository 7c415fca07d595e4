# SPDX-License-Identifier: BSD-3-Clause
"""The router through the real daemon on net_pcap: scapy pcap in, pcap out."""
import pytest
from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, Raw, rdpcap
from scapy.layers.inet import IPerror

from conftest import pcap_daemon

MAC0 = "02:70:63:61:70:00"      # net_pcap's MACs: "pcap" and the index
MAC1 = "02:70:63:61:70:01"
CLIENT_MAC = "02:00:00:00:01:02"
SERVER_MAC = "02:00:00:00:02:02"
CLIENT = "10.1.0.2"
SERVER = "10.2.0.2"

CONFIG = [
    {"method": "port_set", "params": {"port": "port1", "mtu": 1000}},
    {"method": "ip_addr_add", "params": {"address": "10.1.0.1/24",
                                         "port": "port0"}},
    {"method": "ip_addr_add", "params": {"address": "10.2.0.1/24",
                                         "port": "port1"}},
    {"method": "ip_route_add", "params": {"prefix": "10.30.0.0/16",
                                          "gateway": SERVER}},
    {"method": "ip_route_add", "params": {"prefix": "10.40.0.0/16",
                                          "type": "unreachable"}},
    {"method": "ip_neigh_add", "params": {"address": CLIENT, "port": "port0",
                                          "mac": CLIENT_MAC}},
    {"method": "ip_neigh_add", "params": {"address": SERVER, "port": "port1",
                                          "mac": SERVER_MAC}},
]


def l2():
    return Ether(src=CLIENT_MAC, dst=MAC0)


def udp(dst, ttl=64, sport=1000, **kw):
    return l2() / IP(src=CLIENT, dst=dst, ttl=ttl, **kw) / \
        UDP(sport=sport, dport=53) / Raw(b"x" * 18)


def raw_ip(mutate, trim=None):
    """A valid UDP frame as bytes, changed by mutate(bytearray)."""
    b = bytearray(bytes(udp(SERVER, sport=9)))
    mutate(b)
    return Ether(bytes(b[:trim] if trim else b))


INPUT = [
    udp(SERVER, sport=1),                                   # forwarded
    udp("10.30.5.5", ttl=10, sport=2),                      # via gateway
    Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
    ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst="10.1.0.1"),
    l2() / IP(src=CLIENT, dst="10.1.0.1") / ICMP(id=77, seq=5) /
    Raw(b"ping" * 8),
    udp(SERVER, ttl=1, sport=3),                            # time exceeded
    udp("10.99.0.1", sport=4),                              # no route
    udp("10.40.1.1", sport=5),                              # unreachable
    raw_ip(lambda b: b.__setitem__(24, b[24] ^ 0xff)),      # bad checksum
    raw_ip(lambda b: b.__setitem__(14, 0x65)),              # version 6
    raw_ip(lambda b: b.__setitem__(14, 0x44)),              # IHL 4
    raw_ip(lambda b: None, trim=30),                        # truncated
    l2() / IP(src=CLIENT, dst=SERVER, flags="DF") / UDP(sport=6) /
    Raw(b"d" * 1372),                                       # DF, too big
    l2() / IP(src=CLIENT, dst=SERVER, id=4242) / UDP(sport=7) /
    Raw(bytes(range(256)) * 5 + b"e" * 92),                 # fragmented
    udp("10.2.0.77", sport=8),                              # no ARP answer
    Ether(src=CLIENT_MAC, dst=MAC0) / Dot1Q(vlan=5) /
    IP(src=CLIENT, dst=SERVER) / UDP(),                     # VLAN
    Ether(src=CLIENT_MAC, dst="02:00:00:00:00:99") /
    IP(src=CLIENT, dst=SERVER) / UDP(),                     # other host
    l2() / IP(src="127.0.0.1", dst=SERVER) / UDP(),         # martian src
]
# Forwarded, with IP ids that put the header checksum at the edges of the
# one's complement carry before the TTL change: 0xfeff (the sum wraps),
# 0xfffe, 0xff00, 0x00ff, 0xfe00.
EDGE_IDS = [26553, 26298, 26552, 26042, 26808]
INPUT += [udp(SERVER, sport=11 + k, id=ident)
          for k, ident in enumerate(EDGE_IDS)]


INPUT += [Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
          IP(src=CLIENT, dst=SERVER) / UDP(sport=20)]       # L2 broadcast


def replay(tmp, config):
    d, out0, out1 = pcap_daemon(tmp, INPUT, config)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(INPUT),
                   what="all input received")
        # The unanswered neighbour fails after 3 probes, 1 s apart.
        d.wait_for(lambda: d.stats("port0")["drops"]["neigh_failed"] == 1,
                   timeout=15, what="neighbour resolution to fail")
        stats = d.stats("port0")
        stats1 = d.stats("port1")
    finally:
        status = d.stop()
    return {"out0": rdpcap(out0), "out1": rdpcap(out1),
            "stats": stats, "stats1": stats1, "status": status,
            "log": d.log()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return replay(tmp_path_factory.mktemp("pcap"), CONFIG)


def test_general_path_forwards_the_same(run, tmp_path):
    """With nothing at FORWARD and POSTROUTING, a burst's usual packets are
    forwarded in place; a FORWARD rule none of them matches sends every
    packet through the general path (hooks, output checks, neighbour step,
    a new Ethernet header). Both must send the same frames and count the
    same."""
    rule = {"method": "iptables_restore", "params": {"text":
            "*filter\n-A FORWARD -p gre -j DROP\nCOMMIT\n"}}
    general = replay(tmp_path, CONFIG + [rule])
    for port in ("out0", "out1"):
        assert sorted(bytes(p) for p in general[port]) == \
            sorted(bytes(p) for p in run[port]), port
    for port in ("stats", "stats1"):
        for key in ("forwarded", "rx_packets", "rx_bytes", "tx_packets",
                    "tx_bytes", "drops_total"):
            assert general[port][key] == run[port][key], (port, key)
        assert general[port]["drops"] == run[port]["drops"], port
    # The bytes counted are the bytes sent and received.
    for replayed in (run, general):
        assert replayed["stats1"]["tx_bytes"] == \
            sum(len(p) for p in replayed["out1"])
        assert replayed["stats"]["rx_bytes"] == \
            sum(len(p) for p in INPUT)


def udp_out(run, sport):
    return [p for p in run["out1"] if UDP in p and IPerror not in p and
            p[UDP].sport == sport]


def icmp_to_client(run, type_, code=None):
    return [p for p in run["out0"] if ICMP in p and
            p[ICMP].type == type_ and (code is None or p[ICMP].code == code)]


def valid_ip(p):
    ip = p[IP]
    want = IP(bytes(ip)).chksum
    fresh = IP(bytes(ip))
    del fresh.chksum
    return IP(bytes(fresh)).chksum == want


def test_forwarded_ttl_checksum_macs(run):
    [p] = udp_out(run, 1)
    assert p[IP].ttl == 63 and valid_ip(p)
    assert p[Ether].src == MAC1 and p[Ether].dst == SERVER_MAC
    assert bytes(p[UDP].payload) == b"x" * 18
    [g] = udp_out(run, 2)
    assert g[IP].dst == "10.30.5.5" and g[IP].ttl == 9
    assert g[Ether].dst == SERVER_MAC and valid_ip(g)
    for k, ident in enumerate(EDGE_IDS):
        [e] = udp_out(run, 11 + k)
        assert e[IP].id == ident and e[IP].ttl == 63 and valid_ip(e), ident


def test_arp_reply(run):
    replies = [p for p in run["out0"] if ARP in p and p[ARP].op == 2]
    assert len(replies) == 1
    r = replies[0]
    assert r[ARP].hwsrc == MAC0 and r[ARP].psrc == "10.1.0.1"
    assert r[ARP].hwdst == CLIENT_MAC and r[ARP].pdst == CLIENT
    assert r[Ether].dst == CLIENT_MAC


def test_echo_reply(run):
    [r] = icmp_to_client(run, 0)
    assert r[IP].src == "10.1.0.1" and r[IP].dst == CLIENT
    assert r[ICMP].id == 77 and r[ICMP].seq == 5
    assert bytes(r[ICMP].payload) == b"ping" * 8
    assert valid_ip(r)
    fresh = ICMP(bytes(r[ICMP]))
    del fresh.chksum
    assert ICMP(bytes(fresh)).chksum == r[ICMP].chksum


def test_time_exceeded(run):
    [e] = icmp_to_client(run, 11, 0)
    assert e[IP].src == "10.1.0.1" and e[IP].dst == CLIENT
    assert e[IPerror].dst == SERVER and e[IPerror].ttl == 1
    assert e[Ether].dst == CLIENT_MAC and valid_ip(e)


def test_unreachables(run):
    [net] = icmp_to_client(run, 3, 0)
    assert net[IPerror].dst == "10.99.0.1"
    hosts = icmp_to_client(run, 3, 1)
    assert sorted(h[IPerror].dst for h in hosts) == ["10.2.0.77",
                                                      "10.40.1.1"]


def test_frag_needed_and_fragmentation(run):
    [fn] = icmp_to_client(run, 3, 4)
    assert fn[ICMP].nexthopmtu == 1000
    assert udp_out(run, 6) == []
    frags = [p for p in run["out1"] if IP in p and p[IP].id == 4242]
    assert len(frags) == 2
    assert all(len(p[IP]) <= 1000 and valid_ip(p) for p in frags)
    frags.sort(key=lambda p: p[IP].frag)
    assert frags[0][IP].flags.MF and not frags[1][IP].flags.MF
    data = b"".join(bytes(p[IP].payload) for p in frags)
    assert data[8:] == bytes(range(256)) * 5 + b"e" * 92


def test_arp_resolution_requests(run):
    reqs = [p for p in run["out1"] if ARP in p and p[ARP].op == 1 and
            p[ARP].pdst == "10.2.0.77"]
    assert len(reqs) == 3
    assert all(r[ARP].psrc == "10.2.0.1" and r[Ether].src == MAC1
               for r in reqs)
    # The gratuitous ARP of the port's address was sent at start.
    assert any(ARP in p and p[ARP].psrc == p[ARP].pdst == "10.2.0.1"
               for p in run["out1"])


def test_drops_counted_by_reason(run):
    drops = run["stats"]["drops"]
    expected = {"ip_bad_checksum": 1, "ip_bad_version": 1, "ip_bad_ihl": 1,
                "ip_truncated": 1, "ttl_exceeded": 1, "no_route": 1,
                "route_unreachable": 1, "frag_needed_df": 1,
                "neigh_failed": 1, "vlan_tagged": 1, "l2_other_host": 1,
                "ip_martian_source": 1, "l2_broadcast_not_forwarded": 1}
    for k, v in expected.items():
        assert drops[k] == v, k
    s = run["stats"]
    assert s["drops_total"] == sum(expected.values())
    # Every packet is accounted for exactly once: delivered to pktgate,
    # forwarded and sent, or dropped (forwarded packets dropped after the
    # forwarding decision count in both).
    late_drops = drops["frag_needed_df"] + drops["neigh_failed"]
    assert s["rx_packets"] == len(INPUT)
    assert s["rx_packets"] == (s["local_in"] + s["arp_requests_in"] +
                               s["forwarded"] - late_drops +
                               s["drops_total"])
    assert s["forwarded"] == 5 + len(EDGE_IDS) and s["local_in"] == 1


def test_clean_exit(run):
    assert run["status"] == 0
    assert "all 8191 packet buffers returned" in run["log"]
