# SPDX-License-Identifier: BSD-3-Clause
"""Virtual services with real programs: curl in two client namespaces, an
HTTP server in each of three real-server namespaces, pktgate (two
workers, net_tap) balancing between them:

    c1 --tap-- port0 |          | port2 --tap-- lan (bridge) -- rs1, rs2, rs3
    c2 --tap-- port1 | pktgate  |
                                 | port2-host -- a host namespace (checks)

The VIP is on no port: pktgate answers for it. Every scheduler spreads
300 connections as it should; persistence, quiescent servers (draining),
health checks taking a killed server out and back, refusal without a
server, full-NAT, direct routing and Kubernetes' MASQUERADE rule are seen
by the programs themselves.
"""
import collections
import os
import subprocess
import time

import pytest

from conftest import Daemon, setup_ns, sh, write_config

TAG = "pv%d" % (os.getpid() % 100000)
C1, C2, LAN, HOST = TAG + "c1", TAG + "c2", TAG + "lan", TAG + "h"
RS = [TAG + "r%d" % i for i in (1, 2, 3)]
TAPS = [TAG + "t0", TAG + "t1", TAG + "t2"]
NET1, NET2, NET3 = "10.231.1", "10.231.2", "10.231.3"
RS_ADDR = [NET3 + ".%d" % (11 + i) for i in range(3)]
VIP = "10.231.9.1"
LADDR = NET3 + ".200"

# Says which server answered and whom it saw.
WHOAMI = """
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s\\n" % (sys.argv[1], self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("0.0.0.0", 80), H).serve_forever()
"""


def rs_setup(i):
    ns = RS[i]
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "v%d" % i, "netns", ns, "type", "veth",
       "peer", "name", "b%d" % i, "netns", LAN)
    sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "addr", "add", RS_ADDR[i] + "/24", "dev", "v%d" % i, ns=ns)
    sh("ip", "link", "set", "v%d" % i, "address", "02:00:00:31:03:%02x" %
       (11 + i), ns=ns)
    sh("ip", "link", "set", "v%d" % i, "up", ns=ns)
    sh("ip", "route", "add", "default", "via", NET3 + ".1", ns=ns)
    # Direct routing: the VIP is on lo, and only pktgate answers ARP
    # for it (the LVS-DR recipe).
    sh("sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", ns=ns)
    sh("sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2", ns=ns)
    sh("ip", "link", "set", "b%d" % i, "master", "br0", ns=LAN)
    sh("ip", "link", "set", "b%d" % i, "up", ns=LAN)


def start_server(i):
    return subprocess.Popen(
        ["ip", "netns", "exec", RS[i], "/usr/bin/python3", "-c", WHOAMI,
         "rs%d" % (i + 1)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_server(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)


def wait_listening(i):
    deadline = time.time() + 10
    while ":80 " not in sh("ss", "-ltn", ns=RS[i]).stdout:
        assert time.time() < deadline, "server %d not up" % i
        time.sleep(0.1)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ipvs-e2e")
    # Health checks leave by the host path of the servers' port.
    sh("ip", "netns", "add", HOST)
    cfg = write_config(tmp / "cfg.json", [
        {"method": "host_iface_add", "params": {"port": "port2",
                                                "ifname": TAG + "h2",
                                                "netns": HOST}}] + [
        {"method": "ip_addr_add", "params": {"address": n + ".1/24",
                                             "port": "port%d" % i}}
        for i, n in enumerate((NET1, NET2, NET3))])
    d = Daemon(tmp, ["net_tap%d,iface=%s" % (i, t)
                     for i, t in enumerate(TAPS)],
               config=cfg, lcores=["--lcores", "0@0,1@1,2@0"],
               # Four tap ports of two 1024-descriptor RX rings each.
               extra=["--mbufs", "16383"])
    procs = []
    try:
        d.start()
        setup_ns(C1, TAPS[0], NET1, "02:00:00:31:01:02")
        setup_ns(C2, TAPS[1], NET2, "02:00:00:31:02:02")
        sh("ip", "netns", "add", LAN)
        sh("ip", "link", "set", TAPS[2], "netns", LAN)
        # The tap's kernel side has pktgate's MAC: a bridge port with it
        # would take pktgate's frames for the bridge itself.
        sh("ip", "link", "set", TAPS[2], "address", "02:00:00:31:03:02",
           ns=LAN)
        sh("ip", "link", "add", "br0", "type", "bridge", ns=LAN)
        sh("ip", "link", "set", TAPS[2], "master", "br0", ns=LAN)
        sh("ip", "link", "set", TAPS[2], "up", ns=LAN)
        sh("ip", "link", "set", "br0", "up", ns=LAN)
        for i in range(3):
            rs_setup(i)
            procs.append(start_server(i))
        for i in range(3):
            wait_listening(i)
        d.servers = procs
        yield d
    finally:
        for p in procs:
            stop_server(p)
        d.stop()
        for ns in [C1, C2, LAN, HOST] + RS:
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def d(net):
    net.ctl("ipvsadm", "-C")
    net.ctl("iptables", "-t", "nat", "-F")
    yield net
    net.ctl("ipvsadm", "-C")
    net.ctl("iptables", "-t", "nat", "-F")


def curl(ns, n, url="http://%s/" % VIP):
    """@n requests, each on a new connection; the answers' lines."""
    r = sh("curl", "-s", "-S", "--fail-early", "--max-time", "5",
           "-H", "Connection: close",
           *([url] * n), ns=ns, check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split("\n")[:-1]


def service(d, sched, weights=(1, 1, 1), method="-m", extra=()):
    d.ctl("ipvsadm", "-A", "-t", VIP + ":80", "-s", sched, *extra)
    for addr, w in zip(RS_ADDR, weights):
        d.ctl("ipvsadm", "-a", "-t", VIP + ":80", "-r", addr + ":80",
              method, "-w", str(w))


def spread(lines):
    return collections.Counter(line.split()[0] for line in lines)


@pytest.mark.parametrize("sched", ["rr", "wrr", "lc", "wlc", "sed", "nq",
                                   "sh", "dh", "mh", "fo"])
def test_scheduler(d, sched):
    weights = {"wrr": (1, 2, 3), "fo": (1, 3, 2)}.get(sched, (1, 1, 1))
    service(d, sched, weights)
    one, two = curl(C1, 150), curl(C2, 150)
    assert len(one) == len(two) == 150
    # Every request was NATed to a server, who saw the real client.
    assert {line.split()[1] for line in one} == {NET1 + ".2"}
    assert {line.split()[1] for line in two} == {NET2 + ".2"}
    got = spread(one + two)
    if sched == "rr":
        # Each worker keeps its own cursor: within a few of equal.
        assert all(abs(got["rs%d" % i] - 100) <= 4 for i in (1, 2, 3)), got
    elif sched == "wrr":
        for i, w in ((1, 1), (2, 2), (3, 3)):
            assert abs(got["rs%d" % i] - 50 * w) <= 8, got
    elif sched in ("lc", "wlc"):
        # Sequential short connections: a server's finished ones still
        # count (inactive, TIME_WAIT), so the load moves round.
        assert all(got["rs%d" % i] >= 60 for i in (1, 2, 3)), got
    elif sched in ("sed", "nq"):
        # These count active (ESTABLISHED) connections only: with each
        # connection closed before the next, the first server is always
        # the least loaded, as in Linux.
        assert got["rs1"] >= 290, got
    elif sched in ("sh", "mh"):
        # One server per client address.
        assert len(spread(one)) == 1 and len(spread(two)) == 1, got
    elif sched == "dh":
        assert len(got) == 1, got      # one VIP: one server
    elif sched == "fo":
        assert got == {"rs2": 300}, got
    stats = d.call("ipvs_get")["services"][0]
    assert stats["stats"]["conns"] == 300
    assert sum(r["stats"]["conns"] for r in stats["real_servers"]) == 300
    listing = d.ctl("ipvsadm", "-L", "-n", "--stats", "--exact").stdout
    assert listing.splitlines()[3].split()[2] == "300"


def test_persistence_and_quiescent(d):
    service(d, "rr", extra=("-p", "60"))
    one, two = spread(curl(C1, 30)), spread(curl(C2, 30))
    assert len(one) == 1 and len(two) == 1, (one, two)
    # The client's server goes quiescent: persistence still sends it
    # there (Linux's default, expire_quiescent_template=0); others are
    # new clients for the scheduler, which skips it.
    d.ctl("ipvsadm", "-E", "-t", VIP + ":80", "-s", "rr")
    srv = next(iter(one))
    idx = int(srv[2:]) - 1
    d.ctl("ipvsadm", "-e", "-t", VIP + ":80", "-r", RS_ADDR[idx] + ":80",
          "-m", "-w", "0")
    again = spread(curl(C1, 60))
    assert srv not in again and sum(again.values()) == 60, again
    assert len(again) == 2
    out = d.ctl("ipvsadm", "-L", "-n").stdout
    assert "%-28s %-7s %-6d" % (RS_ADDR[idx] + ":80", "Masq", 0) in out


def test_no_server_is_refused(d):
    d.ctl("ipvsadm", "-A", "-t", VIP + ":80", "-s", "rr")
    before = d.stats("port0")["drops"].get("ipvs_no_dest", 0) \
        if "drops" in d.stats("port0") else None
    t0 = time.time()
    r = sh("curl", "-s", "--max-time", "5", "http://%s/" % VIP, ns=C1,
           check=False)
    # ICMP port unreachable: connection refused at once, not a timeout.
    assert r.returncode == 7, r
    assert time.time() - t0 < 3
    assert d.call("ipvs_get")["counters"]["no_dest"] >= 1
    if before is not None:
        assert d.stats("port0")["drops"]["ipvs_no_dest"] > before
    d.call("ipvs_config_set", {"reject_tcp_reset": True})
    try:
        r = sh("curl", "-s", "--max-time", "5", "http://%s/" % VIP, ns=C1,
               check=False)
        assert r.returncode == 7, r
    finally:
        d.call("ipvs_config_set", {"reject_tcp_reset": False})


def test_fullnat_needs_no_route_back(d):
    d.ctl("ipvsadm", "-A", "-t", VIP + ":80", "-s", "rr")
    d.ctl("ipvsadm", "--add-laddr", "-z", LADDR, "-t", VIP + ":80")
    for addr in RS_ADDR:
        d.ctl("ipvsadm", "-a", "-t", VIP + ":80", "-r", addr + ":80",
              "--fullnat")
    for ns in RS:
        sh("ip", "route", "del", "default", ns=ns)
    try:
        lines = curl(C1, 30) + curl(C2, 30)
    finally:
        for ns in RS:
            sh("ip", "route", "add", "default", "via", NET3 + ".1", ns=ns)
    assert {line.split()[1] for line in lines} == {LADDR}
    assert len(spread(lines)) == 3
    out = d.ctl("ipvsadm", "-L", "-n").stdout
    assert "FullNat" in out


def test_kubernetes_masquerade_rule(d):
    service(d, "rr")
    d.ctl("iptables", "-t", "nat", "-A", "POSTROUTING", "-m", "ipvs",
          "--vaddr", VIP, "--vport", "80", "-j", "MASQUERADE")
    lines = curl(C1, 9)
    assert {line.split()[1] for line in lines} == {NET3 + ".1"}
    # Traffic that is no virtual service's is left alone.
    direct = curl(C1, 3, "http://%s/" % RS_ADDR[0])
    assert {line.split()[1] for line in direct} == {NET1 + ".2"}


def test_direct_routing(d):
    for ns in RS:
        sh("ip", "addr", "add", VIP + "/32", "dev", "lo", ns=ns)
    try:
        service(d, "rr", method="-g")
        lines = curl(C1, 30) + curl(C2, 30)
    finally:
        for ns in RS:
            sh("ip", "addr", "del", VIP + "/32", "dev", "lo", ns=ns,
               check=False)
    # The servers saw the clients themselves, on the VIP.
    assert {line.split()[1] for line in lines} == {NET1 + ".2", NET2 + ".2"}
    assert len(spread(lines)) == 3
    out = d.ctl("ipvsadm", "-L", "-n").stdout
    assert out.count("Route") == 3


def health(d):
    return [r["health"] for r in
            d.call("ipvs_check_get")["services"][0]["real_servers"]]


def wait_health(d, want, limit):
    """Poll until the servers' health is @want; the seconds it took."""
    t0 = time.time()
    while health(d) != want:
        assert time.time() - t0 < limit, (health(d), want)
        time.sleep(0.05)
    return time.time() - t0


@pytest.mark.parametrize("action", ["quiesce", "remove"])
def test_health_check_takes_a_killed_server_out_and_back(d, action):
    interval, fall, rise = 1, 2, 2
    service(d, "rr", extra=(
        "--check", "http", "--check-interval", str(interval),
        "--check-timeout", "0.5", "--check-fall", str(fall),
        "--check-rise", str(rise), "--check-action", action))
    # The first checks pass: servers are up and stay up.
    d.wait_for(lambda: all(
        r["checks_ok"] >= 1 for r in
        d.call("ipvs_check_get")["services"][0]["real_servers"]),
        timeout=5, what="first checks")
    assert health(d) == ["up"] * 3
    got = d.call("ipvs_check_get")["services"][0]["real_servers"][0]
    assert got["history"][-1]["result"] == "HTTP 200"
    stop_server(d.servers[0])
    try:
        took = wait_health(d, ["down", "up", "up"], interval * fall + 1)
        lines = curl(C1, 30)
        assert set(spread(lines)) == {"rs2", "rs3"}, spread(lines)
        r = d.call("ipvs_check_get")["services"][0]
        assert r["state"] == "degraded" and r["servers_up"] == 2
        assert r["real_servers"][0]["history"][-1]["result"] == \
            "Connection refused"
        listing = d.ctl("ipvsadm", "-L", "-n").stdout
        if action == "remove":
            assert RS_ADDR[0] not in listing
        else:
            assert "%-28s %-7s %-6d" % (RS_ADDR[0] + ":80", "Masq", 0) \
                in listing
    finally:
        d.servers[0] = start_server(0)
        wait_listening(0)
    back = wait_health(d, ["up"] * 3, interval * rise + 1)
    assert len(spread(curl(C1, 30))) == 3
    print("down after %.2f s, back after %.2f s" % (took, back))


def test_quiescent_server_keeps_its_connections(d):
    """Weight 0 drains: an open connection is served to its end by its
    server, new ones avoid it."""
    d.ctl("ipvsadm", "-A", "-t", VIP + ":80", "-s", "rr")
    d.ctl("ipvsadm", "-a", "-t", VIP + ":80", "-r", RS_ADDR[0] + ":80", "-m")
    client = subprocess.Popen(
        ["ip", "netns", "exec", C1, "/usr/bin/python3", "-c", """
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET / HTTP/1.0\\r\\n")
print("open", flush=True)
sys.stdin.readline()
s.sendall(b"\\r\\n")
answer = b""
while True:  # headers and body may come in separate segments
    chunk = s.recv(4096)
    if not chunk:
        break
    answer += chunk
print(answer.decode().split("\\r\\n\\r\\n", 1)[1].strip(), flush=True)
""", VIP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "open"
        for addr in RS_ADDR[1:]:
            d.ctl("ipvsadm", "-a", "-t", VIP + ":80", "-r", addr + ":80",
                  "-m")
        d.ctl("ipvsadm", "-e", "-t", VIP + ":80", "-r", RS_ADDR[0] + ":80",
              "-m", "-w", "0")
        assert set(spread(curl(C2, 20))) == {"rs2", "rs3"}
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline().split() == ["rs1", NET1 + ".2"]
        assert client.wait(10) == 0
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(10)
