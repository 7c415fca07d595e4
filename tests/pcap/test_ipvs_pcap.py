# SPDX-License-Identifier: BSD-3-Clause
"""Virtual service forwarding methods, packet by packet on net_pcap: what a
client's SYN to the VIP becomes on the real servers' link (NAT, direct
routing, IPIP tunnel, full-NAT), and the refusal when no server is usable.
"""
import pytest
from scapy.all import ICMP, IP, TCP, Ether, IPerror, TCPerror, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER,
                      PCAP_SERVER_MAC as SERVER_MAC, pcap_daemon,
                      pcap_router_config)

VIP, LADDR = "10.9.9.9", "10.2.0.200"


def run(tmp, services, pkts, expect_out):
    config = pcap_router_config() + [
        {"method": "ipvsadm_restore", "params": {"command": services}}]
    d, out0, out1 = pcap_daemon(tmp, pkts, config)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="input read")
        d.wait_for(lambda: d.stats("port0")["tx_packets"] +
                   d.stats("port1")["tx_packets"] >= expect_out,
                   what="output written")
    finally:
        d.stop()
    return rdpcap(out0), [p for p in rdpcap(out1) if IP in p]


def syn(sport=40000, ttl=64):
    return Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=VIP,
                                                ttl=ttl) / \
        TCP(sport=sport, dport=80, flags="S", seq=1000)


def service(method, extra=""):
    return ("-A -t %s:80 -s rr\n%s"
            "-a -t %s:80 -r %s:8080 %s -w 1\n" % (VIP, extra, VIP, SERVER,
                                                  method))


def test_nat(tmp_path):
    _, out = run(tmp_path, service("-m"), [syn()], 1)
    assert len(out) == 1
    p = out[0]
    assert p[Ether].dst == SERVER_MAC
    assert (p[IP].src, p[IP].dst, p[TCP].sport, p[TCP].dport) == \
        (CLIENT, SERVER, 40000, 8080)
    assert p[IP].ttl == 63
    # Checksums were fixed, not broken.
    raw = IP(bytes(p[IP]))
    del raw.chksum, raw[TCP].chksum
    assert IP(bytes(raw)).chksum == p[IP].chksum
    assert IP(bytes(raw))[TCP].chksum == p[TCP].chksum


def test_direct_routing(tmp_path):
    _, out = run(tmp_path, service("-g"), [syn()], 1)
    assert len(out) == 1
    p = out[0]
    # Unchanged but for the MAC and the TTL: the server owns the VIP.
    assert p[Ether].dst == SERVER_MAC
    assert (p[IP].src, p[IP].dst, p[TCP].dport) == (CLIENT, VIP, 80)
    assert p[IP].ttl == 63


def test_tunnel(tmp_path):
    _, out = run(tmp_path, service("-i"), [syn()], 1)
    assert len(out) == 1
    p = out[0]
    assert p[Ether].dst == SERVER_MAC
    assert (p[IP].src, p[IP].dst, p[IP].proto) == ("10.2.0.1", SERVER, 4)
    inner = IP(bytes(p[IP].payload))
    assert (inner.src, inner.dst, inner[TCP].dport, inner.ttl) == \
        (CLIENT, VIP, 80, 63)
    raw = IP(bytes(p[IP]))
    del raw.chksum
    assert IP(bytes(raw)).chksum == p[IP].chksum


def test_fullnat(tmp_path):
    extra = "--add-laddr -z %s -t %s:80\n" % (LADDR, VIP)
    _, out = run(tmp_path, service("--fullnat", extra), [syn()], 1)
    assert len(out) == 1
    p = out[0]
    assert (p[IP].src, p[IP].dst, p[TCP].dport) == (LADDR, SERVER, 8080)
    assert p[TCP].sport >= 1024


def test_no_server_port_unreachable(tmp_path):
    out0, out1 = run(tmp_path, "-A -t %s:80 -s wlc\n" % VIP,
                     [syn(40001)], 1)
    assert out1 == []
    errs = [p for p in out0 if ICMP in p]
    assert len(errs) == 1
    e = errs[0]
    assert (e[ICMP].type, e[ICMP].code) == (3, 3)
    assert e[IP].src == VIP and e[IP].dst == CLIENT
    assert (e[IPerror].dst, e[TCPerror].sport) == (VIP, 40001)


def test_non_syn_is_not_scheduled(tmp_path):
    ack = syn()
    ack[TCP].flags = "A"
    _, out = run(tmp_path, service("-m"), [ack, syn(40002)], 1)
    # Only the SYN reached the server; the stray ACK went to the host
    # (none here), as Linux's IPVS leaves it to the local stack.
    assert [p[TCP].sport for p in out] == [40002]


SERVER2, SERVER2_MAC = "10.2.0.3", "02:00:00:00:02:03"


def two_servers(method):
    return ("-A -t %s:80 -s rr\n"
            "-a -t %s:80 -r %s:80 %s -w 1\n"
            "-a -t %s:80 -r %s:80 %s -w 1\n" % (VIP, VIP, SERVER, method,
                                                VIP, SERVER2, method))


@pytest.mark.parametrize("method", ["-g", "-i"])
@pytest.mark.parametrize("finished", [True, False])
def test_syn_after_the_clients_close_is_scheduled_again(tmp_path, method,
                                                        finished):
    """Direct routing and tunnels see only the client's half: its FIN and
    last ACK leave the connection in FIN_WAIT (IPVS's input-only table) for
    tcpfin's 120 s. A SYN from the same port then is a new connection,
    scheduled again (rr: the other server), not sent to a server that may
    have left; a SYN on an open connection stays with its server."""
    def seg(flags, seq):
        p = syn()
        p[TCP].flags, p[TCP].seq, p[TCP].ack = flags, seq, 1
        return p
    close = [seg("FA", 1001), seg("A", 1002)] if finished else []
    pkts = [syn(), seg("A", 1001)] + close + [syn()]
    config = pcap_router_config() + [
        {"method": "ip_neigh_add", "params": {"address": SERVER2,
                                              "port": "port1",
                                              "mac": SERVER2_MAC}},
        {"method": "ipvsadm_restore",
         "params": {"command": two_servers(method)}}]
    d, _, out1 = pcap_daemon(tmp_path, pkts, config)
    try:
        d.wait_for(lambda: d.stats("port1")["tx_packets"] >= len(pkts),
                   what="output written")
        listing = d.ctl("ipvsadm", "-L", "-n", "-c").stdout
    finally:
        d.stop()
    to = [p[Ether].dst for p in rdpcap(out1) if IP in p]
    assert len(to) == len(pkts)
    assert len(set(to[:-1])) == 1
    if finished:
        assert to[-1] != to[0], listing
        assert "SYN_RECV" in listing and "FIN_WAIT" not in listing, listing
    else:
        assert to[-1] == to[0], listing
