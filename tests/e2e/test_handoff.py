# SPDX-License-Identifier: BSD-3-Clause
"""Two workers, a port with one TX queue: the worker without a queue hands
its packets to worker 0 through the port's handoff ring, none is lost."""
import os
import subprocess
import time

from scapy.all import UDP, rdpcap, wrpcap

from conftest import Daemon, write_config

TAG = "ph%d" % (os.getpid() % 100000)
NS, TAP = TAG + "n", TAG + "t"
FLOWS = 64


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          check=check)


def test_handoff_to_single_queue_port(tmp_path):
    in1, out1 = tmp_path / "in1.pcap", tmp_path / "out1.pcap"
    wrpcap(str(in1), [])
    cfg = write_config(tmp_path / "cfg.json", [
        {"method": "ip_addr_add", "params": {"address": "10.212.1.1/24",
                                             "port": "port0"}},
        {"method": "ip_addr_add", "params": {"address": "10.212.2.1/24",
                                             "port": "port1"}},
        {"method": "ip_neigh_add", "params": {"address": "10.212.2.2",
                                              "port": "port1",
                                              "mac": "02:00:00:00:02:02"}},
    ])
    d = Daemon(tmp_path, [f"net_tap0,iface={TAP}",
                          f"net_pcap0,rx_pcap={in1},tx_pcap={out1}"],
               config=cfg, lcores=["--lcores", "0@0,1@1,2@0"])
    try:
        d.start()
        ports = d.call("port_list")
        assert [p["tx_queues"] for p in ports] == [2, 1]
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "set", TAP, "netns", NS)
        ns = ("ip", "netns", "exec", NS)
        sh(*ns, "ip", "link", "set", TAP, "address", "02:00:00:00:01:02")
        sh(*ns, "ip", "addr", "add", "10.212.1.2/24", "dev", TAP)
        sh(*ns, "ip", "link", "set", TAP, "up")
        sh(*ns, "ip", "route", "add", "default", "via", "10.212.1.1")
        # One datagram per flow; the kernel spreads flows over the tap's
        # two queues, so both workers forward some of them.
        sh(*ns, "/usr/bin/python3", "-c", f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.212.1.2", 19999))
s.sendto(b"warm", ("10.212.2.2", 9))          # resolves the gateway
time.sleep(1)
for i in range({FLOWS}):
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t.bind(("10.212.1.2", 20000 + i))
    t.sendto(b"flow%d" % i, ("10.212.2.2", 9))
    t.close()
""")
        d.wait_for(lambda: d.stats("port1")["tx_packets"] >= FLOWS + 2,
                   what="all flows and the GARP sent")
        st = d.call("port_stats_get", {"port": "port1", "per_worker": True})
        handed = [w["tx_handoff"] for w in st["workers"]]
    finally:
        d.stop()
        sh("ip", "netns", "del", NS, check=False)
    assert handed[0] == 0 and handed[1] > 0, handed
    sent = [p for p in rdpcap(str(out1)) if UDP in p]
    ports = sorted(p[UDP].sport for p in sent if p[UDP].sport >= 20000)
    assert ports == list(range(20000, 20000 + FLOWS))
    assert "all 8191 packet buffers returned" in d.log()
