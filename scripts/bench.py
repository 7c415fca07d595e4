# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark driver behind scripts/bench (see there).

Every rate is measured on one worker lcore, with traffic replayed from
memory (net_pcap infinite_rx) into pktgate and out to net_null, and is
reported beside dpdk-testpmd io forwarding of the same traffic measured in
the same run (the ceiling: a core that moves packets and does nothing
else). --smoke runs every scenario for a moment, small, and checks only
that it ran and that its counters add up."""
import json
import os
import random
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
SMOKE = "--smoke" in sys.argv[2:]
WANTED = [a for a in sys.argv[2:] if a != "--smoke"]
EAL_MEM = os.environ["PGT_BENCH_EAL_MEM"].split()
PORT0_MAC = "02:70:63:61:70:00"     # net_pcap's MAC for port 0
CLIENT_MAC = "02:00:00:00:01:02"
SERVER_MAC = "02:00:00:00:02:02"
MEASURE_S = 0.5 if SMOKE else 3.0
WARMUP_S = 0.3 if SMOKE else 1.0
FLOWS = 1024
CT_FLOWS = 2000 if SMOKE else 100000
NEW_FLOWS = 4096 if SMOKE else 16384
SET_SIZE = 10000 if SMOKE else 100000
UPDATES = 5 if SMOKE else 50
IPVS_SERVICES = 100 if SMOKE else 10000
SWAPS = 50 if SMOKE else 1000
MEMORY_SIZES = [100000] if SMOKE else [1000000, 10000000]


# Traffic, written as raw pcap records: scapy is far too slow for 200,000
# packets, and these are plain UDP over IPv4 over Ethernet.

def _cksum(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    s = (s & 0xffff) + (s >> 16)
    return ~((s & 0xffff) + (s >> 16)) & 0xffff


def _frame(src_mac, src, dst, sport, dport):
    eth = bytes.fromhex(PORT0_MAC.replace(":", "")) + \
        bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 46, 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _cksum(ip)) + ip[12:]
    return eth + ip + struct.pack("!HHHH", sport, dport, 26, 0) + b"\0" * 18


def _syn_frame(src_mac, src, dst, sport, dport):
    """A TCP SYN, padded to 64 bytes with its FCS."""
    eth = bytes.fromhex(PORT0_MAC.replace(":", "")) + \
        bytes.fromhex(src_mac.replace(":", "")) + b"\x08\x00"
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _cksum(ip)) + ip[12:]
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535,
                      0, 0)
    pseudo = struct.pack("!IIBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _cksum(pseudo + tcp)) + tcp[18:]
    return eth + ip + tcp + b"\0" * 6


def _ip(a, b, c, d):
    return a << 24 | b << 16 | c << 8 | d


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def client(i):
    return _ip(10, 1, i // 250 % 250, 2 + i % 250)


def plain_traffic(path):
    """FLOWS one-way UDP flows from the client subnet to one server."""
    write_pcap(path, [_frame(CLIENT_MAC, client(i), _ip(10, 2, 0, 2),
                             1024 + i % 60000, 5001) for i in range(FLOWS)])


def conversation_traffic(path, n, snat):
    """@n UDP conversations, a request and its answer each (to the router's
    address when the requests are SNATed), both arriving on port0."""
    frames = []
    for i in range(n):
        c, sport = client(i), 1024 + i % 60000
        dst = _ip(10, 2, 0, 2 + i // 60000)
        frames.append(_frame(CLIENT_MAC, c, dst, sport, 5001))
        frames.append(_frame(SERVER_MAC, dst, _ip(10, 2, 0, 1) if snat
                             else c, 5001, sport))
    write_pcap(path, frames)


def new_flow_traffic(path, n):
    """@n one-way UDP flows: with a table far smaller than @n, every packet
    starts a connection (and evicts the oldest unanswered one)."""
    write_pcap(path, [_frame(CLIENT_MAC, client(i), _ip(10, 2, 0, 2 + i // 60000),
                             1024 + i % 60000, 5001) for i in range(n)])


VIP = _ip(10, 9, 9, 1)


def ipvs_traffic(path, n, replies):
    """@n UDP flows to the VIP; with @replies, each answered by the one
    real server (NAT: the answer goes to the client itself)."""
    frames = []
    for i in range(n):
        c, sport = client(i), 1024 + i % 60000
        frames.append(_frame(CLIENT_MAC, c, VIP, sport, 5001))
        if replies:
            frames.append(_frame(SERVER_MAC, _ip(10, 2, 0, 2), c, 5001,
                                 sport))
    write_pcap(path, frames)


def syn_traffic(path, n):
    """@n TCP SYNs to the VIP, each from a new client port."""
    write_pcap(path, [_syn_frame(CLIENT_MAC, client(i), VIP,
                                 1024 + i % 60000, 80) for i in range(n)])


def vdevs(pcap):
    return ["--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1"]


def ceiling(pcap, prefix, mbufs):
    """dpdk-testpmd io forwarding of the same traffic on one core."""
    cmd = ["dpdk-testpmd", "--no-pci", *EAL_MEM, "--file-prefix", prefix,
           "-l", "0,1", *vdevs(pcap), "--", "--forward-mode=io",
           "--nb-cores=1", "--stats-period=1", "--auto-start",
           "--total-num-mbufs=%d" % mbufs]
    # On a loaded machine testpmd may start late and show no rate in a
    # short run: a second, longer one then.
    for wait in (2 + max(MEASURE_S, 1.5), 6 + max(MEASURE_S, 1.5)):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        time.sleep(wait)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        rates = [int(m) for m in re.findall(
            r"NIC statistics for port 1 .*?Tx-pps:\s+(\d+)", out, re.S)]
        rates = [r for r in rates if r > 0]
        if rates:
            return statistics.median(rates[-max(1, int(MEASURE_S)):]) / 1e6
    raise RuntimeError("testpmd gave no rate:\n" + out[-2000:])


class Pktgate:
    def __init__(self, pcap, tmp, prefix, extra=(), mbufs=16383,
                 mem=None, setup=()):
        self.sock = os.path.join(tmp, prefix + ".sock")
        self.log = os.path.join(tmp, prefix + ".log")
        # Addresses, neighbours and the scenario's @setup calls before the
        # workers start, so no packet arrives to an unconfigured router
        # (whose answers, ICMP errors, would be sent without having been
        # received): servers, and the gateway to the clients, all by
        # port1 (answers included).
        calls = [{"method": "ip_addr_add", "params": {
                     "address": "10.9.0.1/24", "port": "port0"}},
                 {"method": "ip_addr_add", "params": {
                     "address": "10.2.0.1/24", "port": "port1"}},
                 {"method": "ip_route_add", "params": {
                     "prefix": "10.1.0.0/16", "gateway": "10.2.0.3"}}]
        calls += [{"method": "ip_neigh_add", "params": {
                      "address": "10.2.0.%d" % i, "port": "port1",
                      "mac": SERVER_MAC}} for i in range(2, 6)]
        calls += list(setup)
        config = os.path.join(tmp, prefix + ".json")
        with open(config, "w") as f:
            json.dump({"version": 1, "config": calls if pcap else []}, f)
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "app", "pktgate"), "--no-pci",
             *(mem or EAL_MEM), "--file-prefix", prefix, "-l", "0,1",
             *(vdevs(pcap) if pcap else ["--vdev", "net_null0"]), "--",
             "--rpc-socket", self.sock, "--max-rules", "131072",
             "--mbufs", str(mbufs), "--config", config, *extra],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            try:
                self.call("system_info")
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("pktgate did not start:\n" +
                                       open(self.log).read()[-2000:])
                time.sleep(0.1)

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

    def sent(self):
        return self.call("port_stats_get", {"port": "port1"})["tx_packets"]

    def rate(self):
        time.sleep(WARMUP_S)
        a, t0 = self.sent(), time.monotonic()
        time.sleep(MEASURE_S)
        b, t1 = self.sent(), time.monotonic()
        return (b - a) / (t1 - t0) / 1e6

    def balance(self):
        """(received, sent + dropped at most after it, sent + dropped at
        least before it): every packet is out or counted as dropped, but
        for those in flight (bursts, staging, rings)."""
        def stats():
            # Out first, in after: nothing can be out before it came in.
            b = self.call("port_stats_get", {"port": "port1"})
            a = self.call("port_stats_get", {"port": "port0"})
            return a["rx_packets"], b["tx_packets"] + a["drops_total"] + \
                b["drops_total"]
        rx0, done0 = stats()
        rx1, done1 = stats()
        return rx0, done0, rx1, done1

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        log = open(self.log).read()
        if "packet buffers returned" in log and "not returned" in log:
            raise RuntimeError("pktgate lost buffers:\n" + log[-2000:])


def filter_rules(n, rng, policy="DROP", tail=True):
    """n FORWARD rules, realistic 5-tuples with mixed prefixes and port
    ranges, none matching the traffic but the last."""
    lines = ["*filter", ":FORWARD %s [0:0]" % policy]
    for _ in range(n - (1 if tail else 0)):
        plen = rng.choice([8, 16, 24, 32])
        lo = rng.randint(1, 60000)
        lines.append("-A FORWARD -s 172.%d.%d.0/%d -d 192.168.%d.0/24 -p %s "
                     "-m %s --dport %d:%d -j ACCEPT" % (
                         rng.randint(16, 31), rng.randint(0, 255),
                         min(plen, 24), rng.randint(0, 255),
                         *(2 * [rng.choice(["tcp", "udp"])]), lo,
                         lo + rng.randint(0, 100)))
    if tail:
        lines.append("-A FORWARD -s 10.1.0.0/16 -d 10.2.0.0/24 -p udp -m udp "
                     "--dport 5001 -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def change_times(pg, n):
    times = []
    for i in range(n):
        for cmd in (f"-I FORWARD 1 -p tcp --dport {100 + i} -j DROP",
                    "-D FORWARD 1"):
            t0 = time.monotonic()
            pg.call("iptables", {"command": cmd})
            times.append((time.monotonic() - t0) * 1e3)
    return statistics.median(times), max(times)


def ipvs_change_times(pg, n):
    """@n NAT services of two real servers each; how long one real
    server change (added, reweighted, removed) takes among them."""
    lines = []
    for i in range(n):
        vip = "10.60.%d.%d:80" % (i // 250, 1 + i % 250)
        lines += ["-A -t %s -s wrr" % vip] + [
            "-a -t %s -r 10.61.%d.%d:8080 -m" % (vip, i % 200, k + 1)
            for k in range(2)]
    pg.call("ipvsadm_restore", {"command": "\n".join(lines) + "\n"})
    times = []
    for i in range(UPDATES):
        vip = "10.60.%d.%d:80" % (i // 250, 1 + i % 250)
        for cmd in ("-a -t %s -r 10.62.0.1:8080 -m -w 1" % vip,
                    "-e -t %s -r 10.62.0.1:8080 -m -w 3" % vip,
                    "-d -t %s -r 10.62.0.1:8080" % vip):
            t0 = time.monotonic()
            pg.call("ipvsadm", {"command": cmd})
            times.append((time.monotonic() - t0) * 1e3)
    pg.call("ipvsadm", {"command": "-C"})
    return {"services": n, "median_ms": statistics.median(times),
            "worst_ms": max(times)}


def check_balance(pg, name):
    """The smoke test's one assertion: every packet is accounted for."""
    rx0, done0, rx1, done1 = pg.balance()
    # What was done by the second look cannot exceed what came in by then,
    # and by then everything received at the first look is done but for
    # what is in flight.
    if done1 > rx1 or done1 < rx0 - 8192:
        raise RuntimeError("%s: packets unaccounted for: received %d then "
                           "%d, out or dropped %d then %d\n%s" % (
                               name, rx0, rx1, done0, done1, json.dumps(
                                   [pg.call("port_stats_get", {"port": p})
                                    for p in ("port0", "port1")])))


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


def stateful_rules(rng, snat):
    """ESTABLISHED,RELATED first, 1,000 rules behind it, then what lets
    new conversations in."""
    lines = filter_rules(1000, rng, tail=False).split("\n")[:-2]
    lines.insert(2, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED "
                 "-j ACCEPT")
    lines += ["-A FORWARD -p udp -m udp --dport 5001 -m conntrack "
              "--ctstate NEW -j ACCEPT", "COMMIT"]
    return "\n".join(lines) + "\n" + (SNAT if snat else "")


class Run:
    def __init__(self, tmp):
        self.tmp = tmp
        self.tag = "bench%d" % os.getpid()
        self.results = {"smoke": SMOKE, "scenarios": {}}
        self.rng = random.Random(1)
        self.hz = 0

    def report(self, name, r, extra=""):
        line = "%s %.2f %.0f %.2f" % (name, r["mpps"], r["cycles_per_packet"],
                                        r["ratio"])
        print(line + extra, flush=True)
        self.results["scenarios"][name] = r

    def measure(self, pg, ceil, name, **more):
        mpps = pg.rate()
        self.hz = self.hz or pg.call("system_info")["tsc_hz"]
        r = {"mpps": mpps, "cycles_per_packet": self.hz / max(mpps * 1e6, 1),
             "ratio": mpps / ceil, "ceiling_mpps": ceil}
        r.update(more)
        check_balance(pg, name)
        return r

    def filters(self, wanted):
        pcap = os.path.join(self.tmp, "plain.pcap")
        plain_traffic(pcap)
        ceil = ceiling(pcap, self.tag + "ref", 65536)
        self.results["ceiling_mpps"] = ceil
        print("ceiling (testpmd io) %.2f Mpps" % ceil, flush=True)
        pg = Pktgate(pcap, self.tmp, self.tag)
        try:
            for name, n in wanted:
                extra = ""
                if name == "sets":
                    self.sets(pg)
                elif n > 0:
                    t0 = time.monotonic()
                    pg.call("iptables_restore",
                            {"text": filter_rules(n, self.rng)})
                    load_ms = (time.monotonic() - t0) * 1e3
                r = self.measure(pg, ceil, name, rules=n)
                if n > 0 and name != "sets":
                    med, worst = change_times(pg, UPDATES)
                    r.update(load_ms=load_ms, change_median_ms=med,
                             change_worst_ms=worst)
                    extra = "  (load %.0f ms; one change: median %.2f ms, " \
                        "worst %.2f ms)" % (load_ms, med, worst)
                self.report(name, r, extra)
            if not WANTED or "update" in WANTED:
                if "sets" not in [name for name, _ in wanted]:
                    self.sets(pg)       # the set update() changes
                self.update(pg, ceil)
        finally:
            pg.stop()

    def sets(self, pg):
        """SET_SIZE addresses in one set, the traffic's sources among
        them, matched by one rule."""
        pg.call("ipset", {"command": "create big hash:ip maxelem %d" %
                          (SET_SIZE + 16)})
        members = ["add big %d.%d.%d.%d" % (172, 16 + i // 65536 % 16,
                                            i // 256 % 256, i % 256)
                   for i in range(SET_SIZE - FLOWS)]
        members += ["add big 10.1.%d.%d" % (i // 250, 2 + i % 250)
                    for i in range(FLOWS)]
        pg.call("ipset_restore", {"command": "\n".join(members)})
        pg.call("iptables_restore", {"text": "*filter\n:FORWARD DROP [0:0]\n"
                                     "-A FORWARD -m set --match-set big src "
                                     "-j ACCEPT\nCOMMIT\n"})

    def update(self, pg, ceil):
        """Rule changes under load: how long one takes at 10k and 100k
        rules, one set change, and what the data path loses while a rule
        is swapped SWAPS times (it must be nothing)."""
        r = {}
        for n in ((1000,) if SMOKE else (10000, 100000)):
            pg.call("iptables_restore", {"text": filter_rules(n, self.rng)})
            med, worst = change_times(pg, UPDATES)
            r["rules_%d" % n] = {"median_ms": med, "worst_ms": worst}
        times = []
        for i in range(UPDATES):
            for cmd in ("add", "del"):
                t0 = time.monotonic()
                pg.call("ipset", {"command": "%s big 192.0.%d.%d" % (
                    cmd, 200 + i // 250, i % 250)})
                times.append((time.monotonic() - t0) * 1e3)
        r["set_change"] = {"median_ms": statistics.median(times),
                           "worst_ms": max(times)}
        r["ipvs_dest_change"] = ipvs_change_times(pg, IPVS_SERVICES)
        # The accepting rule replaced by itself, again and again: old and
        # new rulesets both accept, so nothing may be lost.
        pg.call("iptables_restore", {"text": filter_rules(1000, self.rng)})
        last = "-s 10.1.0.0/16 -d 10.2.0.0/24 -p udp -m udp --dport 5001 " \
            "-j ACCEPT"
        def drops():
            return sum(pg.call("port_stats_get", {"port": p})["drops_total"]
                       for p in ("port0", "port1"))
        before = drops()
        for i in range(SWAPS):
            pg.call("iptables", {"command": "-R FORWARD 1000 " + last})
        r["swaps"] = SWAPS
        r["lost_during_swaps"] = drops() - before
        check_balance(pg, "update")
        print("update: one change at %s; one set change median %.3f ms; "
              "one real server change among %d services median %.2f ms "
              "worst %.2f ms; %d swaps under load, %d packets lost" % (
                  ", ".join("%s rules median %.2f ms worst %.2f ms" % (
                      k.split("_")[1], v["median_ms"], v["worst_ms"])
                      for k, v in r.items() if k.startswith("rules_")),
                  r["set_change"]["median_ms"], IPVS_SERVICES,
                  r["ipvs_dest_change"]["median_ms"],
                  r["ipvs_dest_change"]["worst_ms"], SWAPS,
                  r["lost_during_swaps"]), flush=True)
        self.results["scenarios"]["update"] = r
        if r["lost_during_swaps"] != 0:
            raise RuntimeError("packets lost during rule swaps")

    def stateful(self, name, pcap, extra, mbufs, setup, summary):
        """One scenario on its own daemon: @setup (RPC calls) configures it,
        @summary(pg, r) adds its figures to r and says them."""
        ceil = ceiling(pcap, self.tag + name + "ref", mbufs)
        pg = Pktgate(pcap, self.tmp, self.tag + name, extra, mbufs,
                     setup=setup)
        try:
            r = self.measure(pg, ceil, name)
            r["connections"] = pg.call("conntrack_config_get")["count"]
            said = summary(pg, r)
        finally:
            pg.stop()
        self.report(name, r, said + "  [ceiling %.2f Mpps]" % ceil)

    def conntrack(self, name):
        pcap = os.path.join(self.tmp, name + ".pcap")
        extra, mbufs = ("--conntrack-max", str(2 * CT_FLOWS)), 16383
        if name == "ct-new":
            new_flow_traffic(pcap, NEW_FLOWS)
            extra, mbufs = ("--conntrack-max", "1024"), 4 * NEW_FLOWS
            rules = STATEFUL
        else:
            conversation_traffic(pcap, CT_FLOWS, name == "ct-snat-est")
            mbufs = 2 * CT_FLOWS + 16383
            rules = stateful_rules(self.rng, name == "ct-snat-est")

        def summary(pg, r):
            if name != "ct-new":
                return "  (%d connections)" % r["connections"]
            # Every packet counted as created a connection.
            stats = pg.call("conntrack", {"command": "-S"})["output"]
            r["inserts"] = int(re.search(r" insert=(\d+)", stats).group(1))
            r["found"] = int(re.search(r"found=(\d+)", stats).group(1))
            return "  (%.2f M new connections/s; %d looked up found)" % (
                r["mpps"], r["found"])
        self.stateful(name, pcap, extra, mbufs,
                      [{"method": "iptables_restore",
                        "params": {"text": rules}}],
                      summary)

    def ipvs(self, name):
        """Virtual services on one worker. ipvs-nat-est: UDP conversations
        with a NAT service of one real server (the answers must come from
        the server the scheduler picked, so there is one), every packet
        of a known connection. ipvs-fnat-est: full-NAT requests only (the
        answers would go to local ports pktgate chooses), every packet of
        a known connection rewritten both ways. ipvs-new: TCP SYNs from
        new client ports over four real servers (rr), each scheduled and
        tracked; a table far smaller than the flows evicts the oldest."""
        pcap = os.path.join(self.tmp, name + ".pcap")
        if name == "ipvs-new":
            syn_traffic(pcap, NEW_FLOWS)
            extra, mbufs = ("--conntrack-max", "1024"), 4 * NEW_FLOWS
            cmds = ["-A -t 10.9.9.1:80 -s rr"] + [
                "-a -t 10.9.9.1:80 -r 10.2.0.%d:80 -m" % i
                for i in range(2, 6)]
        else:
            ipvs_traffic(pcap, CT_FLOWS, name == "ipvs-nat-est")
            extra = ("--conntrack-max", str(2 * CT_FLOWS))
            mbufs = 2 * CT_FLOWS + 16383
            cmds = ["-A -u 10.9.9.1:5001 -s rr"]
            if name == "ipvs-nat-est":
                cmds.append("-a -u 10.9.9.1:5001 -r 10.2.0.2:5001 -m")
            else:
                cmds.append("--add-laddr -z 10.2.0.1 -u 10.9.9.1:5001")
                cmds += ["-a -u 10.9.9.1:5001 -r 10.2.0.%d:5001 --fullnat"
                         % i for i in range(2, 6)]

        def summary(pg, r):
            r["ipvs_conns"] = pg.call("ipvs_get")["services"][0]["stats"][
                "conns"]
            if name != "ipvs-new":
                return "  (%d connections)" % r["connections"]
            return "  (%.2f M new connections/s; %d scheduled)" % (
                r["mpps"], r["ipvs_conns"])
        self.stateful(name, pcap, extra, mbufs,
                      [{"method": "ipvsadm_restore", "params": {
                          "command": "\n".join(cmds) + "\n"}}],
                      summary)

    def memory(self):
        """Bytes per tracked connection: what the daemon allocates from
        DPDK's heap with tables for N connections, less that with the
        smallest table, over N; and its resident size at the defaults."""
        r = {}
        mem = ["--no-huge", "-m", "%d" % (max(MEMORY_SIZES) * 400 // 2**20 +
                                         1024)]
        base = None
        for n in [16] + MEMORY_SIZES:
            pg = Pktgate(None, self.tmp, self.tag + "mem%d" % n,
                         ("--conntrack-max", str(n)), mem=mem)
            try:
                heap = pg.call("system_info")["heap_allocated_bytes"]
            finally:
                pg.stop()
            if base is None:
                base = heap
                continue
            r["bytes_per_connection_%d" % n] = (heap - base) / n
        pg = Pktgate(None, self.tmp, self.tag + "memdef")
        try:
            r["rss_default_mib"] = pg.rss_kib() / 1024
        finally:
            pg.stop()
        print("memory: " + ", ".join(
            "%s connections %.0f bytes each" % (k.rsplit("_", 1)[1], v)
            for k, v in r.items() if k.startswith("bytes")) +
            "; resident size at the defaults %.0f MiB" %
            r["rss_default_mib"], flush=True)
        self.results["scenarios"]["memory"] = r


FILTERS = [("l3fwd", 0), ("filter-10", 10), ("filter-1k", 1000),
           ("filter-10k", 10000), ("filter-100k", 100000), ("sets", 1)]
CONNTRACK = ["ct-est", "ct-snat-est", "ct-new"]
IPVS = ["ipvs-nat-est", "ipvs-fnat-est", "ipvs-new"]


def main():
    def wanted(name):
        return not WANTED or name in WANTED
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(tmp)
        filters = [f for f in FILTERS if wanted(f[0])]
        if filters or wanted("update"):
            run.filters(filters)
        for name in CONNTRACK:
            if wanted(name):
                run.conntrack(name)
        for name in IPVS:
            if wanted(name):
                run.ipvs(name)
        if wanted("memory"):
            run.memory()
        out = os.path.join(BUILD, "bench-smoke.json" if SMOKE
                           else "bench.json")
        with open(out, "w") as f:
            json.dump(run.results, f, indent=1)
        print("results in", out)


if __name__ == "__main__":
    main()
