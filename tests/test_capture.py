# SPDX-License-Identifier: BSD-3-Clause
"""-j NFLOG and `pktgatectl capture`: the packets a rule copies, written as
pcapng and read back by tcpdump (and scapy), offline from net_pcap and live
from a ping through net_tap ports."""
import os
import subprocess
import time

import pytest
from scapy.all import IP, TCP, UDP, Ether, Raw, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, PKTGATECTL,
                      Daemon, NsRouter, pcap_daemon, pcap_router_config, sh)

NB_SSH, NB_UDP = 3, 2

RULES = [
    '-A FORWARD -p tcp --dport 22 -j NFLOG --nflog-group 5 '
    '--nflog-prefix "ssh drop"',
    "-A FORWARD -p tcp --dport 22 -j DROP",
    "-A FORWARD -p udp -j NFLOG --nflog-size 32",
]


@pytest.fixture
def logged(tmp_path):
    pkts = [Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=SERVER) /
            TCP(sport=2000 + i, dport=22, flags="S") for i in range(NB_SSH)]
    pkts += [Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=SERVER) /
             UDP(sport=1000, dport=53) / Raw(b"x" * 100)
             for _ in range(NB_UDP)]
    cfg = pcap_router_config() + [
        {"method": "iptables", "params": {"command": r}} for r in RULES]
    d, _, _ = pcap_daemon(tmp_path, pkts, cfg)
    try:
        d.wait_for(lambda: d.call("ruleset_stats")["nflog"]["captured"] ==
                   NB_SSH + NB_UDP, what="the NFLOG'd packets")
        yield d, tmp_path
    finally:
        d.stop()


def tcpdump(path):
    p = subprocess.run(["tcpdump", "-n", "-r", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "link-type RAW" in p.stderr
    return p.stdout.splitlines()


def test_nflog_rule_syntax(logged):
    d, _ = logged
    save = d.ctl("iptables-save").stdout
    assert ('-A FORWARD -p tcp -m tcp --dport 22 -j NFLOG --nflog-prefix '
            '"ssh drop" --nflog-group 5\n') in save
    assert "-A FORWARD -p udp -j NFLOG --nflog-size 32\n" in save
    for bad, msg in (("--nflog-threshold 3", "not supported"),
                     ("--nflog-group 70000", "not 0-65535"),
                     ("--nflog-size 5000", "at most 1600 bytes"),
                     ("--nflog-prefix " + "p" * 64, "longer than 63")):
        r = d.ctl("iptables", "-A", "FORWARD", "-j", "NFLOG", *bad.split(),
                  check=False)
        assert r.returncode == 1 and msg in r.stderr
    assert d.ctl("iptables-save").stdout.count("NFLOG") == 2


def test_capture_file_read_by_tcpdump(logged):
    d, tmp = logged
    out = tmp / "all.pcapng"
    r = d.ctl("capture", "--recent", "-c", str(NB_SSH + NB_UDP), "-w",
              str(out))
    assert "%d packets captured" % (NB_SSH + NB_UDP) in r.stderr
    lines = tcpdump(out)
    assert len(lines) == NB_SSH + NB_UDP
    for i in range(NB_SSH):
        assert "IP %s.%d > %s.22: Flags [S]" % (CLIENT, 2000 + i, SERVER) \
            in lines[i]
    pkts = rdpcap(str(out))
    # --nflog-size 32: 32 bytes kept of each 128-byte UDP packet.
    assert [len(p) for p in pkts[NB_SSH:]] == [32] * NB_UDP
    assert [p.wirelen for p in pkts[NB_SSH:]] == [128] * NB_UDP
    # Forwarded packets are copied as FORWARD sees them: TTL decremented.
    assert pkts[0][IP].ttl == 63


def test_capture_group_filter_on_a_pipe(logged):
    d, _ = logged
    p = subprocess.run("%s -s %s capture --recent -g 5 -c %d | "
                       "tcpdump -n -r -" % (PKTGATECTL, d.sock, NB_SSH),
                       shell=True, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == NB_SSH and all(".22: Flags [S]" in x for x in lines)


def test_capture_refuses_a_terminal_and_bad_options(logged):
    d, _ = logged
    for args, msg in ((["-g", "70000"], "not a number in 0..65535"),
                      (["-c", "0"], "not a number in 1.."),
                      (["-x"], "usage: capture")):
        r = d.ctl("capture", *args, "-w", "/dev/null", check=False)
        assert r.returncode == 1 and msg in r.stderr
    # A terminal on stdout: the shell's `script` gives one.
    r = subprocess.run(["script", "-qec", "%s -s %s capture" %
                        (PKTGATECTL, d.sock), "/dev/null"],
                       capture_output=True, text=True, timeout=30)
    assert "not writing pcapng to a terminal" in r.stdout


def test_nflog_read_reports_what_a_slow_reader_lost(logged):
    d, _ = logged
    newest = d.call("nflog_read", {"max": 0})["cursor"]
    assert newest == NB_SSH + NB_UDP
    r = d.call("nflog_read", {"cursor": newest - 2, "max": 1})
    assert r["cursor"] == newest - 1 and len(r["packets"]) == 1
    assert r["packets"][0]["group"] == 0 and r["packets"][0]["len"] == 128


TAG = "pn%d" % (os.getpid() % 100000)
CLIENT_NET, SERVER_NET = "10.218.1", "10.218.2"


def test_live_capture_of_a_ping(tmp_path):
    with NsRouter(tmp_path, TAG, (CLIENT_NET, SERVER_NET),
                  ("02:00:00:f7:00:02", "02:00:00:f7:01:02")) as r:
        d = r.daemon
        d.ctl("iptables", "-A", "FORWARD", "-p", "icmp", "-j", "NFLOG",
              "--nflog-group", "9")
        out = tmp_path / "live.pcapng"
        cap = subprocess.Popen([PKTGATECTL, "-s", d.sock, "capture", "-g",
                                "9", "-c", "4", "-t", "30", "-w", str(out)],
                               stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)     # the capture starts from now, not before
        sh("ping", "-c", "2", "-i", "0.2", "-W", "2", SERVER_NET + ".2",
           ns=r.client_ns)
        _, err = cap.communicate(timeout=60)
        assert "4 packets captured" in err
        lines = tcpdump(out)
        assert sum("ICMP echo request" in x for x in lines) == 2
        assert sum("ICMP echo reply" in x for x in lines) == 2


def test_drops_captured_as_they_were(tmp_path):
    """The drop watch copies dropped packets with their reason: frames as
    they came before routing, IP packets after; `capture --drops` writes
    them as one Ethernet pcapng that tcpdump reads."""
    eth = Ether(src=CLIENT_MAC, dst=MAC0)
    pkts = [
        eth / IP(src=CLIENT, dst=SERVER) / UDP(dport=53) / Raw(b"ok"),
        Ether(src=CLIENT_MAC, dst=MAC0, type=0x88b5) / Raw(b"x" * 50),
        eth / IP(src=CLIENT, dst="10.77.7.7") / UDP(dport=53),
        eth / IP(src=CLIENT, dst=SERVER, ttl=1) / UDP(dport=53),
        eth / IP(src=CLIENT, dst=SERVER) / TCP(dport=23, flags="S"),
    ]
    cfg = pcap_router_config() + [
        {"method": "drop_watch_set", "params": {"reasons": "all"}},
        {"method": "iptables", "params": {
            "command": "-t mangle -A POSTROUTING -p tcp --dport 23 -j DROP"}},
    ]
    d, _, out1 = pcap_daemon(tmp_path, pkts, cfg)
    try:
        d.wait_for(lambda: len(d.call("nflog_read", {"drops": True})
                               ["packets"]) == 4, what="the drops")
        got = d.call("nflog_read", {"drops": True})["packets"]
        assert [(p["drop"], p["ethernet"], p["in"]) for p in got] == [
            ("ethertype_unsupported", True, "port0"),
            ("no_route", True, "port0"),
            ("ttl_exceeded", True, "port0"),
            ("ruleset_drop", False, "port0")]
        assert got[3]["out"] == "port1"
        # Frames from their Ethernet header, the routed one from its IP.
        assert bytes.fromhex(got[0]["data"]) == bytes(pkts[1])
        routed = IP(bytes.fromhex(got[3]["data"]))
        assert routed[TCP].dport == 23 and routed.ttl == 63
        # NFLOG's readers do not see them.
        assert d.call("nflog_read", {"drops": False})["packets"] == []
        assert d.call("drop_watch_get")["reasons"][0] == "l2_truncated"
        out = tmp_path / "drops.pcapng"
        r = d.ctl("capture", "--drops", "no_route,ruleset_drop", "--recent",
                  "-c", "4", "-w", str(out))
        assert "4 packets captured" in r.stderr
        p = subprocess.run(["tcpdump", "-n", "-e", "-r", str(out)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and "link-type EN10MB" in p.stderr, p.stderr
        # One line per packet (tcpdump adds hex lines under unknown ones).
        lines = [x for x in p.stdout.splitlines() if not x.startswith("\t")]
        assert len(lines) == 4
        assert "ethertype Unknown (0x88b5)" in lines[0]
        assert "10.77.7.7.53" in lines[1]
        assert "> 10.2.0.2.23: Flags [S]" in lines[3], lines[3]
        read = rdpcap(str(out))
        assert read[3][Ether].src == "00:00:00:00:00:00"
        assert read[3][IP].ttl == 63      # as it was: routed
        # The capture put the watch back as it found it.
        assert len(d.call("drop_watch_get")["reasons"]) > 40
        d.call("drop_watch_set", {"reasons": ""})
        assert d.call("drop_watch_get")["reasons"] == []
        r = d.ctl("rpc", "drop_watch_set", '{"reasons": "bogus"}',
                  check=False)
        assert "no drop reason 'bogus'" in r.stderr
    finally:
        d.stop()
