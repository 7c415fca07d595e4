# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark driver behind scripts/bench (see there)."""
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from scapy.all import IP, UDP, Ether, Raw, wrpcap

BUILD = sys.argv[1]
WANTED = sys.argv[2:]
EAL_MEM = os.environ["PGT_BENCH_EAL_MEM"].split()
PORT0_MAC = "02:70:63:61:70:00"     # net_pcap's MAC for port 0
SERVER_MAC = "02:00:00:00:02:02"
FLOWS = 1024
MEASURE_S = 3.0
UPDATES = 50


def traffic(path):
    pkts = [Ether(src="02:00:00:00:01:02", dst=PORT0_MAC) /
            IP(src="10.1.%d.%d" % (i // 250, 2 + i % 250), dst="10.2.0.2") /
            UDP(sport=1024 + i, dport=5001) / Raw(b"\0" * 18)
            for i in range(FLOWS)]
    wrpcap(path, pkts)


def vdevs(pcap):
    return ["--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1"]


def ceiling(pcap, prefix):
    """dpdk-testpmd io forwarding of the same traffic on one core."""
    cmd = ["dpdk-testpmd", "--no-pci", *EAL_MEM, "--file-prefix", prefix,
           "-l", "0,1", *vdevs(pcap), "--", "--forward-mode=io",
           "--nb-cores=1", "--stats-period=1", "--auto-start"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    time.sleep(2 + MEASURE_S)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    # Per-port blocks; take the Tx-pps figures of port 1 after warm-up.
    rates = [int(m) for m in re.findall(
        r"NIC statistics for port 1 .*?Tx-pps:\s+(\d+)", out, re.S)]
    rates = [r for r in rates if r > 0]
    if not rates:
        raise RuntimeError("testpmd gave no rate:\n" + out[-2000:])
    return statistics.median(rates[-int(MEASURE_S):]) / 1e6


def stateful_traffic(path, snat):
    """FLOWS UDP conversations, each a request and its answer (to the
    router's address when the requests are SNATed), both on port0."""
    pkts = []
    for i in range(FLOWS):
        client = "10.1.%d.%d" % (i // 250, 2 + i % 250)
        pkts.append(Ether(src="02:00:00:00:01:02", dst=PORT0_MAC) /
                    IP(src=client, dst="10.2.0.2") /
                    UDP(sport=1024 + i, dport=5001) / Raw(b"\0" * 18))
        pkts.append(Ether(src=SERVER_MAC, dst=PORT0_MAC) /
                    IP(src="10.2.0.2", dst="10.2.0.1" if snat else client) /
                    UDP(sport=5001, dport=1024 + i) / Raw(b"\0" * 18))
    wrpcap(path, pkts)


def new_flow_traffic(path, n):
    """@n one-way UDP flows: with a table far smaller than @n, every packet
    starts a connection (and evicts the oldest unanswered one)."""
    wrpcap(path, [Ether(src="02:00:00:00:01:02", dst=PORT0_MAC) /
                  IP(src="10.1.%d.%d" % (i // 250 % 250, 2 + i % 250),
                     dst="10.2.0.%d" % (2 + i // 62500)) /
                  UDP(sport=1024 + i % 60000, dport=5001) / Raw(b"\0" * 18)
                  for i in range(n)])


STATEFUL = """*filter
:FORWARD DROP [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p udp -m udp --dport 5001 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
"""
SNAT = """*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 10.2.0.1
COMMIT
"""


class Pktgate:
    def __init__(self, pcap, tmp, prefix, extra=(), mbufs=16383):
        self.sock = os.path.join(tmp, "bench.sock")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "app", "pktgate"), "--no-pci", *EAL_MEM,
             "--file-prefix", prefix, "-l", "0,1", *vdevs(pcap), "--",
             "--rpc-socket", self.sock, "--max-rules", "131072",
             "--mbufs", str(mbufs), *extra],
            stdout=open(os.path.join(tmp, "pktgate.log"), "w"),
            stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                self.call("system_info")
                break
            except OSError:
                time.sleep(0.1)
        for method, params in (
                ("ip_addr_add", {"address": "10.1.0.1/16", "port": "port0"}),
                ("ip_addr_add", {"address": "10.2.0.1/24", "port": "port1"}),
                ("ip_neigh_add", {"address": "10.2.0.2", "port": "port1",
                                  "mac": SERVER_MAC})):
            self.call(method, params)

    def hairpin(self):
        """Answers come in on port0 too: send both directions out of
        port1, clients through a gateway there."""
        self.call("ip_addr_del", {"address": "10.1.0.1/16", "port": "port0"})
        self.call("ip_addr_add", {"address": "10.9.0.1/24", "port": "port0"})
        for i in range(2, 6):
            self.call("ip_neigh_add", {"address": "10.2.0.%d" % i,
                                       "port": "port1", "mac": SERVER_MAC})
        self.call("ip_route_add", {"prefix": "10.1.0.0/16",
                                   "gateway": "10.2.0.3"})

    def call(self, method, params=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        req = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            req["params"] = params
        s.sendall(json.dumps(req).encode())
        buf, dec = b"", json.JSONDecoder()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise OSError("closed")
            buf += chunk
            try:
                resp, _ = dec.raw_decode(buf.decode())
                break
            except ValueError:
                continue
        s.close()
        if "error" in resp:
            raise RuntimeError(resp["error"]["message"])
        return resp["result"]

    def rate(self):
        def sent():
            return self.call("port_stats_get", {"port": "port1"})[
                "tx_packets"]
        time.sleep(1)
        a, t0 = sent(), time.monotonic()
        time.sleep(MEASURE_S)
        b, t1 = sent(), time.monotonic()
        return (b - a) / (t1 - t0) / 1e6

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def filter_rules(n, rng):
    """n FORWARD rules, realistic 5-tuples with mixed prefixes and port
    ranges, none matching the traffic but the last."""
    lines = ["*filter", ":FORWARD DROP [0:0]"]
    for _ in range(n - 1):
        plen = rng.choice([8, 16, 24, 32])
        lo = rng.randint(1, 60000)
        lines.append("-A FORWARD -s 172.%d.%d.0/%d -d 192.168.%d.0/24 -p %s "
                     "-m %s --dport %d:%d -j ACCEPT" % (
                         rng.randint(16, 31), rng.randint(0, 255),
                         min(plen, 24), rng.randint(0, 255),
                         *(2 * [rng.choice(["tcp", "udp"])]), lo,
                         lo + rng.randint(0, 100)))
    lines.append("-A FORWARD -s 10.1.0.0/16 -d 10.2.0.0/24 -p udp -m udp "
                 "--dport 5001 -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def update_times(pg):
    times = []
    for i in range(UPDATES):
        for cmd in (f"-I FORWARD 1 -p tcp --dport {100 + i} -j DROP",
                    "-D FORWARD 1"):
            t0 = time.monotonic()
            pg.call("iptables", {"command": cmd})
            times.append((time.monotonic() - t0) * 1e3)
    return statistics.median(times), max(times)


SCENARIOS = [("l3fwd", 0), ("filter-10", 10), ("filter-1k", 1000),
             ("filter-10k", 10000), ("filter-100k", 100000)]
# Connection tracking: established conversations through a stateful
# ruleset, the same with SNAT, and a stream of new connections.
CT_SCENARIOS = ["ct-established", "ct-snat", "ct-new"]
NEW_FLOWS = 16384


def run_ct(name, tmp, tag):
    pcap = os.path.join(tmp, name + ".pcap")
    extra, mbufs = (), 16383
    if name == "ct-new":
        new_flow_traffic(pcap, NEW_FLOWS)
        extra, mbufs = ("--conntrack-max", "1024"), 4 * NEW_FLOWS
    else:
        stateful_traffic(pcap, name == "ct-snat")
    ceil = ceiling(pcap, tag + name + "ref")
    pg = Pktgate(pcap, tmp, tag + name, extra, mbufs)
    try:
        hz = pg.call("system_info")["tsc_hz"]
        pg.hairpin()
        pg.call("iptables_restore", {"text": STATEFUL + (
            SNAT if name == "ct-snat" else "")})
        mpps = pg.rate()
        stats = pg.call("conntrack", {"command": "-S"})["output"]
        count = pg.call("conntrack_config_get")["count"]
    finally:
        pg.stop()
    r = {"mpps": mpps, "cycles_per_packet": hz / (mpps * 1e6),
         "ratio": mpps / ceil, "ceiling_mpps": ceil, "connections": count}
    line = "%s %.2f %.0f %.2f" % (name, mpps, r["cycles_per_packet"],
                                    r["ratio"])
    if name == "ct-new":
        early = int(re.search(r"early_drop=(\d+)", stats).group(1))
        r["early_drops"] = early
        line += "  (every packet a new connection: %.2f M/s)" % mpps
    print(line + "  [ceiling %.2f Mpps]" % ceil, flush=True)
    return r


def main():
    wanted = [s for s in SCENARIOS if not WANTED or s[0] in WANTED]
    wanted_ct = [s for s in CT_SCENARIOS if not WANTED or s in WANTED]
    results = {"scenarios": {}}
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        pcap = os.path.join(tmp, "traffic.pcap")
        traffic(pcap)
        tag = "bench%d" % os.getpid()
        ceil = ceiling(pcap, tag + "ref")
        results["ceiling_mpps"] = ceil
        print("ceiling (testpmd io) %.2f Mpps" % ceil)
        pg = Pktgate(pcap, tmp, tag) if wanted else None
        try:
            hz = pg.call("system_info")["tsc_hz"] if pg else 0
            for name, n in wanted:
                if n > 0:
                    t0 = time.monotonic()
                    pg.call("iptables_restore",
                            {"text": filter_rules(n, rng)})
                    load_ms = (time.monotonic() - t0) * 1e3
                mpps = pg.rate()
                r = {"mpps": mpps, "cycles_per_packet": hz / (mpps * 1e6),
                     "ratio": mpps / ceil, "rules": n}
                line = "%s %.2f %.0f %.2f" % (name, mpps,
                                                r["cycles_per_packet"],
                                                r["ratio"])
                if n > 0:
                    med, worst = update_times(pg)
                    r.update(load_ms=load_ms, update_median_ms=med,
                             update_worst_ms=worst)
                    line += "  (load %.0f ms; one change: median %.2f ms, " \
                            "worst %.2f ms)" % (load_ms, med, worst)
                print(line, flush=True)
                results["scenarios"][name] = r
        finally:
            if pg:
                pg.stop()
        for name in wanted_ct:
            results["scenarios"][name] = run_ct(name, tmp, tag)
    out = os.path.join(BUILD, "bench.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print("results in", out)


main()
