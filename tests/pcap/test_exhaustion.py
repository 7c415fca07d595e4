# SPDX-License-Identifier: BSD-3-Clause
"""Full queues have a defined, counted behaviour and recover: the LOG ring
(records lost and counted, packets unaffected) and the queue of packets
waiting for ARP (the excess dropped and counted, the rest answered with
host unreachable when resolution fails), with every buffer returned."""
import pytest
from scapy.all import ICMP, IP, UDP, Ether, Raw, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, pcap_daemon,
                      pcap_router_config)

UNRESOLVED = "10.2.0.99"        # nobody answers ARP for it
LOGGED, PARKED = 3000, 400

CONFIG = pcap_router_config() + [
    {"method": "icmp_ratelimit_set", "params": {"rate": 0}},
    {"method": "iptables_restore", "params": {"text":
        "*filter\n-A FORWARD -p udp -m udp --dport 7 -j LOG "
        "--log-prefix \"flood: \" --log-level 7\nCOMMIT\n"}},
]


def udp(dst, dport, i):
    return Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=dst, id=i) / \
        UDP(sport=1000, dport=dport) / Raw(b"e")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pkts = [udp(SERVER, 7, i) for i in range(LOGGED)] + \
        [udp(UNRESOLVED, 8, i) for i in range(PARKED)]
    d, out0, out1 = pcap_daemon(tmp_path_factory.mktemp("exhaust"), pkts,
                                CONFIG)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   timeout=20, what="all input received")
        # Resolution gives up after 3 probes, 1 s apart; parked packets then
        # get their host unreachable.
        d.wait_for(lambda: d.stats("port0")["drops"]["neigh_failed"] +
                   d.stats("port0")["drops"]["neigh_timeout"] > 0,
                   timeout=15, what="the neighbour resolution to fail")
        d.wait_for(lambda: d.call("ruleset_stats")["log"]["written"] ==
                   d.call("ruleset_stats")["log"]["posted"],
                   what="the LOG ring drained")
        log = d.call("ruleset_stats")["log"]
        st = d.stats("port0")
    finally:
        status = d.stop()
    return {"log": log, "stats": st, "status": status, "out0": rdpcap(out0),
            "out1": rdpcap(out1), "daemon_log": d.log()}


def test_log_ring_full_loses_records_not_packets(run):
    log = run["log"]
    assert log["posted"] + log["ring_full"] == LOGGED
    assert log["ring_full"] > 0                 # the ring holds 1,024
    assert log["written"] == log["posted"]      # and recovers: all written
    forwarded = [p for p in run["out1"] if UDP in p and p[UDP].dport == 7]
    assert len(forwarded) == LOGGED


def test_arp_queue_full_is_counted_and_the_rest_answered(run):
    st = run["stats"]
    queued = st["neigh_queued"]
    assert queued == 256                        # PGT_PIPELINE_NEIGH_QUEUE
    assert st["drops"]["neigh_queue_full"] == PARKED - queued
    failed = st["drops"]["neigh_failed"] + st["drops"]["neigh_timeout"]
    assert failed == queued
    unreach = [p for p in run["out0"] if ICMP in p and p[ICMP].type == 3
               and p[ICMP].code == 1]
    assert len(unreach) == queued


def test_every_buffer_returned(run):
    assert run["status"] == 0
    assert "packet buffers returned" in run["daemon_log"]
    assert "not returned" not in run["daemon_log"]
