# SPDX-License-Identifier: BSD-3-Clause
"""Packet buffers exhausted under load, on net_tap: a client sends the
first seven fragments of hundreds of datagrams and never the last, so
reassembly holds more buffers than the pool has free. While the pool is
empty, what arrives is dropped by the driver and counted (rx_nombuf);
when reassembly gives the fragments up (30 s, Linux's ipfrag_time) every
buffer comes back and forwarding resumes by itself."""
import os
import time

from conftest import Daemon, setup_ns, sh, write_config

TAG = "mx%d" % (os.getpid() % 100000)
CLIENT_NET, SERVER_NET = "10.226.1", "10.226.2"
SERVER = SERVER_NET + ".2"

# argv: interface, destination, datagrams. Fragments 1-7 of 8 each.
FLOOD = """
import sys
from scapy.all import IP, UDP, Ether, Raw, fragment, sendp
iface, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
frames = []
for i in range(n):
    frags = fragment(IP(dst=dst, id=i + 1) / UDP(dport=9) /
                     Raw(b"x" * 8 * 1000), fragsize=1000)
    assert len(frags) == 9
    frames += [Ether() / f for f in frags[:7]]
sendp(frames, iface=iface, verbose=0)
"""


def ping(ns, count=1):
    return sh("ping", "-c", str(count), "-W", "1", SERVER, ns=ns,
              check=False).returncode == 0


def test_pool_exhaustion_is_counted_and_recovers(tmp_path):
    client_ns, server_ns = TAG + "c", TAG + "s"
    taps = (TAG + "c0", TAG + "s0")
    # Connection tracking on: fragments are reassembled (as nf_defrag).
    cfg = write_config(tmp_path / "cfg.json", [
        {"method": "ip_addr_add", "params": {"address": net + ".1/24",
                                             "port": "port%d" % i}}
        for i, net in enumerate((CLIENT_NET, SERVER_NET))] + [
        {"method": "iptables_restore", "params": {"text":
            "*filter\n-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
            "COMMIT\n"}}])
    # The two taps' RX rings hold 2 x 1024 buffers; about 1,000 are left.
    d = Daemon(tmp_path, ["net_tap%d,iface=%s" % (i, taps[i])
                          for i in (0, 1)], config=cfg,
               extra=["--mbufs", "3071"])
    try:
        d.start()
        setup_ns(client_ns, taps[0], CLIENT_NET, "02:00:00:f1:26:02")
        setup_ns(server_ns, taps[1], SERVER_NET, "02:00:00:f2:26:02")
        assert ping(client_ns)
        free = d.call("system_info")["mbufs"]["available"]
        sh("ip", "netns", "exec", client_ns, "/usr/bin/python3", "-c", FLOOD,
           taps[0], SERVER, "400", timeout=120)
        flooded = time.monotonic()
        d.wait_for(lambda: d.call("system_info")["mbufs"]["available"] < 64,
                   what="the pool to run dry")
        nombuf = d.stats("port0")["device"]["rx_nombuf"]
        # Lost while the pool is dry, and counted by the driver.
        assert not ping(client_ns, 3)
        assert d.stats("port0")["device"]["rx_nombuf"] > nombuf
        # Recovers by itself once reassembly times the fragments out.
        while not ping(client_ns):
            assert time.monotonic() - flooded < 60, "no recovery"
        assert time.monotonic() - flooded > 20
        d.wait_for(lambda: d.call("system_info")["mbufs"]["available"] >=
                   free - 8, what="the buffers back")
        assert d.proc.poll() is None
    finally:
        status = d.stop()
        for ns in (client_ns, server_ns):
            sh("ip", "netns", "del", ns, check=False)
    assert status == 0
    assert "all 3071 packet buffers returned" in d.log()
