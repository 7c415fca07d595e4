# SPDX-License-Identifier: BSD-3-Clause
"""Shared helpers: start the real daemon, talk JSON-RPC to it, clean up."""
import itertools
import json
import os
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PGT_BUILD", os.path.join(ROOT, "build"))
PKTGATE = os.path.join(BUILD, "app", "pktgate")
PKTGATECTL = os.path.join(BUILD, "app", "pktgatectl")

_seq = itertools.count()


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def rpc_raw(sock_path, payload, timeout=10.0):
    """Send raw bytes, return the first reply object (or None if closed)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(payload)
        return read_reply(s)
    finally:
        s.close()


def read_reply(s):
    buf = b""
    dec = json.JSONDecoder()
    while True:
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return None
        if not chunk:
            return None
        buf += chunk
        # A reply of megabytes comes in many chunks: decode only what can
        # be whole, or reading it is quadratic.
        if not buf.rstrip().endswith(b"}"):
            continue
        try:
            obj, _ = dec.raw_decode(buf.decode().lstrip())
            return obj
        except ValueError:
            continue


# A UDP stream for "nothing lost" tests: the receiver prints how many
# distinct sequence numbers reached ADDR:9999 before a quiet TIMEOUT;
# the sender sends N numbered datagrams at RATE per second.
def free_port():
    """A TCP port free on loopback now (for a listener a test starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


UDP_RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((sys.argv[1], 9999))
s.settimeout(float(sys.argv[2]))
seen = set()
try:
    while True:
        seen.add(int(s.recv(64).split()[0]))
except socket.timeout:
    pass
print(len(seen))
"""

UDP_SENDER = """
import socket, sys, time
n, rate = int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for i in range(n):
    s.sendto(b"%d seq" % i, (sys.argv[1], 9999))
    delay = start + (i + 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


class Daemon:
    """pktgate on virtual ports, with --no-huge and --no-pci."""

    def __init__(self, tmp_path, vdevs, workers=1, config=None, lcores=None,
                 extra=()):
        n = next(_seq)
        self.prefix = f"pgt{os.getpid()}_{n}"
        self.sock = str(tmp_path / f"pgt{n}.sock")
        self.log_path = str(tmp_path / f"pktgate{n}.log")
        lc = lcores or ["-l", "0-%d" % workers]
        self.cmd = [PKTGATE, "--no-pci", "--no-huge", "-m", "512",
                    "--no-shconf", "--file-prefix", self.prefix, *lc]
        for v in vdevs:
            self.cmd += ["--vdev", v]
        self.cmd += ["--", "--rpc-socket", self.sock, "--mbufs", "8191",
                     "--idle-sleep-us", "100", *extra]
        if config is not None:
            self.cmd += ["--config", str(config)]
        self.proc = None

    def start(self, expect_ready=True, timeout=30):
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if not expect_ready:
            return self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pktgate exited %d:\n%s" %
                                   (self.proc.returncode, self.log()))
            if os.path.exists(self.sock):
                try:
                    self.call("system_info")
                    return self
                except (OSError, RpcError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("pktgate not ready:\n" + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def call(self, method, params=None):
        req = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            req["params"] = params
        resp = rpc_raw(self.sock, json.dumps(req).encode())
        if resp is None:
            raise RpcError(0, "connection closed")
        if "error" in resp:
            raise RpcError(resp["error"]["code"], resp["error"]["message"])
        return resp["result"]

    def ctl(self, *args, check=True):
        r = subprocess.run([PKTGATECTL, "-s", self.sock, *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("pktgatectl %s: %s" % (args, r.stderr))
        return r

    def stats(self, port):
        return self.call("port_stats_get", {"port": port})

    def wait_for(self, cond, timeout=10, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for " + what)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.logf.close()


@pytest.fixture
def daemons(tmp_path):
    """Factory for daemons that are always stopped (by PID) at the end."""
    started = []

    def make(*args, **kw):
        d = Daemon(tmp_path, *args, **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        try:
            d.stop()
        except Exception:
            pass


def write_config(path, calls):
    path.write_text(json.dumps({"version": 1, "config": calls}, indent=1))
    return path


def sh(*cmd, ns=None, check=True, timeout=60, **kw):
    """Run a command, in network namespace @ns if given."""
    if ns is not None:
        cmd = ("ip", "netns", "exec", ns) + cmd
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)


def setup_ns(ns, tap, net, mac):
    """Move @tap into a new namespace @ns as host @net.2/24 with its own
    MAC (the tap's kernel side plays a separate host), default via @net.1."""
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "set", tap, "netns", ns)
    sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "set", tap, "address", mac, ns=ns)
    sh("ip", "addr", "add", net + ".2/24", "dev", tap, ns=ns)
    sh("ip", "link", "set", tap, "up", ns=ns)
    sh("ip", "route", "add", "default", "via", net + ".1", ns=ns)


class NsRouter:
    """pktgate with two workers between a client and a server namespace on
    net_tap ports: client NET0.2 -- NET0.1 port0 | port1 NET1.1 -- NET1.2
    server. Started servers are stopped by PID with the rest."""

    def __init__(self, tmp, tag, nets, macs):
        self.client_ns, self.server_ns = tag + "c", tag + "s"
        self.nets, self.macs = nets, macs
        self.taps = (tag + "c0", tag + "s0")
        cfg = write_config(tmp / "cfg.json", [
            {"method": "ip_addr_add", "params": {"address": nets[i] + ".1/24",
                                                 "port": "port%d" % i}}
            for i in (0, 1)])
        self.daemon = Daemon(tmp, ["net_tap%d,iface=%s" % (i, self.taps[i])
                                   for i in (0, 1)],
                             config=cfg, lcores=["--lcores", "0@0,1@1,2@0"])
        self.procs = []

    def __enter__(self):
        try:
            self.daemon.start()
            setup_ns(self.client_ns, self.taps[0], self.nets[0], self.macs[0])
            setup_ns(self.server_ns, self.taps[1], self.nets[1], self.macs[1])
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def serve_http(self, directory, port=8080):
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.server_ns, "/usr/bin/python3", "-m",
             "http.server", str(port), "--bind", self.nets[1] + ".2",
             "--directory", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.daemon.stop()
        for ns in (self.client_ns, self.server_ns):
            sh("ip", "netns", "del", ns, check=False)


def pcap_daemon(tmp, packets, config, extra=()):
    """pktgate on two net_pcap ports, port0 reading @packets (a list, or
    the path of a pcap file); returns the daemon (started) and the output
    pcap paths of port0 and port1."""
    from scapy.all import wrpcap
    in0, in1 = tmp / "in0.pcap", tmp / "in1.pcap"
    out0, out1 = tmp / "out0.pcap", tmp / "out1.pcap"
    if isinstance(packets, list):
        wrpcap(str(in0), packets)
    else:
        in0 = packets
    wrpcap(str(in1), [])
    d = Daemon(tmp, [f"net_pcap0,rx_pcap={in0},tx_pcap={out0}",
                     f"net_pcap1,rx_pcap={in1},tx_pcap={out1}"],
               config=write_config(tmp / "cfg.json", config), extra=extra)
    d.start()
    return d, str(out0), str(out1)


# The pcap tests' network: a client behind port0, a server behind port1.
PCAP_MAC0 = "02:70:63:61:70:00"     # net_pcap's MACs: "pcap" and the index
PCAP_CLIENT_MAC = "02:00:00:00:01:02"
PCAP_SERVER_MAC = "02:00:00:00:02:02"
PCAP_CLIENT, PCAP_SERVER = "10.1.0.2", "10.2.0.2"


def pcap_router_config():
    """Addresses of both ports and static neighbours for both hosts."""
    return [
        {"method": "ip_addr_add", "params": {"address": "10.1.0.1/24",
                                             "port": "port0"}},
        {"method": "ip_addr_add", "params": {"address": "10.2.0.1/24",
                                             "port": "port1"}},
        {"method": "ip_neigh_add", "params": {"address": PCAP_CLIENT,
                                              "port": "port0",
                                              "mac": PCAP_CLIENT_MAC}},
        {"method": "ip_neigh_add", "params": {"address": PCAP_SERVER,
                                              "port": "port1",
                                              "mac": PCAP_SERVER_MAC}},
    ]
