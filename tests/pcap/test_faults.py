# SPDX-License-Identifier: BSD-3-Clause
"""Faults, on net_pcap ports: a worker that stalls (its transmit blocks)
and a SIGTERM in the middle of a ruleset swap. Neither crashes pktgate,
half-applies a change or loses a packet without a counter, and the log
says what happened."""
import fcntl
import json
import os
import signal
import socket
import threading
import time

from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER, Daemon,
                      pcap_router_config, write_config)

RULES = "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p udp -j ACCEPT\nCOMMIT\n"


def udp(i, size=100):
    return Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=SERVER) / \
        UDP(sport=1000 + i % 1000, dport=9) / Raw(b"x" * size)


def test_stalled_worker_is_reported_and_resumes(tmp_path):
    """port1 writes into a FIFO nobody reads: once the pipe is full the
    worker blocks in the driver. The watchdog reports it, a ruleset change
    waits for it (logged), and when the FIFO is read everything resumes:
    the change lands and every packet comes out."""
    count = 3000                    # ~400 KB: far more than a pipe holds
    in0, in1, out0 = tmp_path / "in0.pcap", tmp_path / "in1.pcap", \
        tmp_path / "out0.pcap"
    fifo = tmp_path / "out1.fifo"
    wrpcap(str(in0), [udp(i) for i in range(count)])
    wrpcap(str(in1), [])
    os.mkfifo(fifo)
    # Open the reading end first, so the daemon's open for writing
    # does not wait; read nothing yet.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(rfd, fcntl.F_SETFL, 0)
    d = Daemon(tmp_path, [f"net_pcap0,rx_pcap={in0},tx_pcap={out0}",
                          f"net_pcap1,rx_pcap={in1},tx_pcap={fifo}"],
               config=write_config(tmp_path / "cfg.json",
                                   pcap_router_config()))
    data, change, reader = [], {}, None

    def drain():
        while True:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                return
            data.append(chunk)

    def swap():
        try:
            change["result"] = d.call("iptables_restore", {"text": RULES})
        except Exception as e:          # reported by the assertion below
            change["error"] = e

    try:
        d.start()
        d.wait_for(lambda: d.call("system_info")["workers"][0]["stalled"],
                   timeout=15, what="the watchdog to see the stall")
        assert "worker 0 stalled" in d.log()
        swapper = threading.Thread(target=swap)
        swapper.start()
        time.sleep(1.5)
        assert swapper.is_alive()       # the change waits for the worker
        assert "a change has waited" in d.log()
        reader = threading.Thread(target=drain)
        reader.start()
        swapper.join(15)
        assert change == {"result": True}
        d.wait_for(lambda: not d.call("system_info")["workers"][0]
                   ["stalled"], what="the worker to loop again")
        w = d.call("system_info")["workers"][0]
        assert w["stalls"] == 1 and w["stalled_ms"] >= 1000
        # The datagrams and the port's gratuitous ARP at start.
        d.wait_for(lambda: d.stats("port1")["tx_packets"] == count + 1,
                   what="every packet sent")
        assert d.ctl("iptables", "-S", "FORWARD").stdout == \
            "-P FORWARD ACCEPT\n-A FORWARD -p udp -j ACCEPT\n"
        log = d.log()
        assert "worker 0 loops again after" in log
        assert "the change went through after" in log
    finally:
        assert d.stop() == 0
        if reader is not None:
            reader.join(15)
        os.close(rfd)
    out = tmp_path / "out1.pcap"
    out.write_bytes(b"".join(data))
    assert len([p for p in rdpcap(str(out)) if UDP in p]) == count
    assert "all 8191 packet buffers returned" in d.log()


def big_ruleset(n):
    lines = ["*filter", ":FORWARD ACCEPT [0:0]"]
    lines += ["-A FORWARD -s 10.%d.%d.0/24 -p tcp --dport %d -j DROP" %
              (i >> 8 & 255, i & 255, 1 + i % 60000) for i in range(n)]
    return "\n".join(lines + ["COMMIT", ""])


def test_sigterm_during_a_ruleset_swap(tmp_path):
    """SIGTERM while a large iptables_restore is being compiled and traffic
    flows: the swap finishes or never starts, the daemon exits 0 with every
    buffer back, and the client gets a whole answer or none."""
    in0, in1 = tmp_path / "in0.pcap", tmp_path / "in1.pcap"
    wrpcap(str(in0), [udp(i, 20) for i in range(5000)])
    wrpcap(str(in1), [])
    d = Daemon(tmp_path, [
        f"net_pcap0,rx_pcap={in0},tx_pcap={tmp_path / 'out0.pcap'}",
        f"net_pcap1,rx_pcap={in1},tx_pcap={tmp_path / 'out1.pcap'}"],
        config=write_config(tmp_path / "cfg.json", pcap_router_config()),
        extra=["--max-rules", "100000"])
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method":
                      "iptables_restore",
                      "params": {"text": big_ruleset(90000)}}).encode()
    try:
        d.start()
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.sendall(req)
        # The restore takes about half a second (more under ASan).
        time.sleep(0.15)
        d.proc.send_signal(signal.SIGTERM)
        s.settimeout(30)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        s.close()
        assert d.proc.wait(30) == 0
    finally:
        d.stop()
    if answer:
        assert json.loads(answer)["result"] is True
    log = d.log()
    assert "signal 15: shutting down" in log
    assert "all 8191 packet buffers returned" in log
    assert "ERROR" not in log and "runtime error" not in log
