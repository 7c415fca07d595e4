# SPDX-License-Identifier: BSD-3-Clause
"""-j TRACE, the trace_read RPC and `pktgatectl trace`: every step of the
packets chosen, through the real daemon (net_pcap, and a live ping through
net_tap); tracing a few packets under load loses none of the others."""
import os
import subprocess
import time

from scapy.all import IP, TCP, UDP, Ether

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, PKTGATECTL,
                      NsRouter, pcap_daemon, pcap_router_config, sh)

RULES = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp --dport 80 -j TRACE
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.2.0.9/32 -p tcp --dport 80 -j DNAT --to-destination 10.2.0.2:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:web - [0:0]
-A FORWARD -p tcp -j web
-A FORWARD -p udp -j ACCEPT
-A web -p tcp --dport 8080 -j ACCEPT
COMMIT
"""


def from_client(l4, dst=SERVER):
    return Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=dst) / l4


def config():
    return pcap_router_config() + [
        {"method": "iptables_restore", "params": {"text": RULES}}]


def test_trace_events(tmp_path):
    pkts = [from_client(TCP(sport=1000, dport=80, flags="S"), "10.2.0.9"),
            from_client(TCP(sport=1001, dport=80, flags="S")),
            from_client(UDP(sport=1002, dport=80))]
    d, _, _ = pcap_daemon(tmp_path, pkts, config())
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == 3)
        d.wait_for(lambda: d.call("ruleset_stats")["trace"]["kept"] >= 16,
                   what="the trace events")
        res = d.call("trace_read")
        stats = d.call("ruleset_stats")["trace"]
    finally:
        d.stop()
    ev = res["events"]
    assert res["lost"] == 0 and stats["ring_full"] == 0
    assert stats["posted"] == stats["kept"] == len(ev)
    # Two packets traced (ids), the UDP one not at all.
    first = [e for e in ev if e["id"] == ev[0]["id"]]
    second = [e for e in ev if e["id"] != ev[0]["id"]]
    assert {e["id"] for e in second} != {ev[0]["id"]} and second
    assert all(e.get("proto") != 17 for e in ev)
    steps = [(e["type"], e.get("table"), e.get("chain"), e.get("rule"),
              e.get("verdict")) for e in first]
    assert steps == [
        ("trace", None, None, None, None),
        ("conntrack", None, None, None, None),
        ("rule", "nat", "PREROUTING", 1, "DNAT"),
        ("nat", None, None, None, None),
        ("hook", None, None, None, None),
        ("rule", "filter", "FORWARD", 1, "jump"),
        ("rule", "filter", "web", 1, "ACCEPT"),
        ("hook", None, None, None, None),
        ("out", None, None, None, None)]
    assert first[2]["text"] == ("-A PREROUTING -d 10.2.0.9/32 -p tcp -m tcp "
                                "--dport 80 -j DNAT --to-destination "
                                "10.2.0.2:8080")
    assert first[0]["packet"] == \
        "tcp 10.1.0.2:1000 > 10.2.0.9:80 [S] len 40 ttl 64"
    assert (first[3]["dst"], first[3]["dport"]) == ("10.2.0.2", 8080)
    assert first[4]["hook"] == "FORWARD" and first[4]["ttl"] == 63
    assert (first[-1]["out"], first[-1]["in"]) == ("port1", "port0")
    # The second: the user chain falls through, FORWARD's policy drops.
    assert [e["type"] for e in second][-4:] == \
        ["rule", "return", "policy", "drop"]
    assert second[-2]["verdict"] == "DROP"
    assert second[-1]["reason"] == "ruleset_drop"


def test_trace_with_only_the_trace_rule(tmp_path):
    """No rule at FORWARD or POSTROUTING: the untraced packets of the burst
    are forwarded in place, the traced one still shows each hook it
    passes."""
    rules = "*raw\n-A PREROUTING -p tcp --dport 80 -j TRACE\nCOMMIT\n"
    pkts = [from_client(UDP(sport=1002, dport=80)),
            from_client(TCP(sport=1001, dport=80, flags="S")),
            from_client(UDP(sport=1003, dport=80))]
    d, _, out1 = pcap_daemon(tmp_path, pkts, pcap_router_config() + [
        {"method": "iptables_restore", "params": {"text": rules}}])
    try:
        d.wait_for(lambda: d.stats("port0")["forwarded"] == 3)
        d.wait_for(lambda: d.call("ruleset_stats")["trace"]["kept"] >= 4,
                   what="the trace events")
        ev = d.call("trace_read")["events"]
    finally:
        d.stop()
    assert [(e["type"], e.get("hook")) for e in ev] == [
        ("trace", "PREROUTING"), ("hook", "FORWARD"), ("hook", "POSTROUTING"),
        ("out", None)]
    assert ev[1]["ttl"] == 63 and ev[-1]["out"] == "port1"


def test_trace_cursor_and_text(tmp_path):
    pkts = [from_client(TCP(sport=2000 + i, dport=80, flags="S"))
            for i in range(3)]
    d, _, _ = pcap_daemon(tmp_path, pkts, config())
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == 3)
        # Each: TRACE, conntrack, nat policy, FORWARD, jump, return,
        # policy, drop.
        d.wait_for(lambda: d.call("ruleset_stats")["trace"]["kept"] ==
                   3 * 8, what="the trace events")
        newest = d.call("trace_read", {"max": 0})["cursor"]
        assert newest == 24
        part = d.call("trace_read", {"max": 7})
        rest = d.call("trace_read", {"cursor": part["cursor"]})
        assert len(part["events"]) == 7 and len(rest["events"]) == 17
        assert d.call("trace_read", {"cursor": newest})["events"] == []
        text = d.ctl("trace", "--recent", "-c", "3").stdout
    finally:
        d.stop()
    lines = text.splitlines()
    assert len(lines) == 24
    assert lines[0].endswith(
        "PREROUTING in port0: tcp 10.1.0.2:2000 > 10.2.0.2:80 [S] len 40 "
        "ttl 64 (TRACE rule)")
    assert any("filter web: return" in line for line in lines)
    assert lines[-1].endswith("drop: ruleset_drop")


def test_trace_under_load_loses_nothing(tmp_path):
    """One packet in 100 traced among 20,000: every other one forwarded,
    none dropped; events beyond the rings' room are counted, not waited
    for."""
    n = 20000
    pkts = [from_client(TCP(sport=1024 + i % 50000, dport=80 if i % 100 == 0
                            else 8080, flags="S")) for i in range(n)]
    rules = RULES.replace("-A FORWARD -p udp -j ACCEPT",
                          "-A FORWARD -p udp -j ACCEPT\n"
                          "-A FORWARD -p tcp --dport 80 -j ACCEPT")
    cfg = pcap_router_config() + [
        {"method": "iptables_restore", "params": {"text": rules}}]
    d, _, _ = pcap_daemon(tmp_path, pkts, cfg, extra=["--mbufs", "16383"])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == n, timeout=60,
                   what="%d packets in" % n)
        d.wait_for(lambda: d.stats("port0")["forwarded"] == n, timeout=30,
                   what="%d packets forwarded" % n)
        # Besides them, the port's gratuitous ARP.
        d.wait_for(lambda: d.stats("port1")["tx_packets"] == n + 1,
                   timeout=30, what="%d packets out" % n)
        st = d.call("ruleset_stats")["trace"]
        drops = sum(d.stats(p)["drops_total"] for p in ("port0", "port1"))
    finally:
        d.stop()
    assert drops == 0
    # TRACE, conntrack, nat policy, FORWARD, jump, return, accept,
    # POSTROUTING, out
    assert st["posted"] + st["ring_full"] == (n // 100) * 9
    assert st["posted"] > 0


TAG = "pt%d" % (os.getpid() % 100000)
CLIENT_NET, SERVER_NET = "10.219.1", "10.219.2"


def test_pktgatectl_trace_live(tmp_path):
    """pktgatectl trace -p icmp: its TRACE rule is in while it runs and gone
    after; a ping through net_tap shows every step."""
    with NsRouter(tmp_path, TAG, (CLIENT_NET, SERVER_NET),
                  ("02:00:00:e1:00:02", "02:00:00:e2:00:02")) as r:
        d = r.daemon
        proc = subprocess.Popen([PKTGATECTL, "-s", d.sock, "trace", "-c",
                                 "2", "-t", "30", "-p", "icmp"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            d.wait_for(lambda: "TRACE" in d.ctl("iptables", "-t", "raw",
                                                "-S").stdout,
                       what="the TRACE rule")
            rules = d.ctl("iptables", "-t", "raw", "-S").stdout
            assert '-A PREROUTING -p icmp -m comment --comment ' \
                '"pktgatectl trace %d" -j TRACE' % proc.pid in rules
            sh("ping", "-c", "1", "-W", "2", SERVER_NET + ".2",
               ns=r.client_ns)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert "2 packets traced" in err
        assert "TRACE" not in d.ctl("iptables", "-t", "raw", "-S").stdout
    lines = out.splitlines()
    req = "icmp %s.2 > %s.2 echo-request" % (CLIENT_NET, SERVER_NET)
    rep = "icmp %s.2 > %s.2 echo-reply" % (SERVER_NET, CLIENT_NET)
    assert any("PREROUTING in port0: " + req in line for line in lines)
    assert any("out port1: " + req in line for line in lines)
    assert any("PREROUTING in port1: " + rep in line for line in lines)
    # The first goes out once the server's MAC is known.
    assert any("queued in port0 out port1" in line for line in lines)
    assert any("out port0: " + rep in line for line in lines)
