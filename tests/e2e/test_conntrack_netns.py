# SPDX-License-Identifier: BSD-3-Clause
"""Connection tracking and NAT with real programs, two workers, net_tap:

    client ns --tap-- port0 [pktgate] port1 --tap-- server ns
                        |
                  port0 (tap) in the host ns (the box's own programs)

A stateful firewall seen by curl; SNAT and MASQUERADE seen by the server;
DNAT; REDIRECT to a program on the host; iperf3 through NAT; events.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import PKTGATECTL, Daemon, setup_ns, sh, write_config

TAG = "pk%d" % (os.getpid() % 100000)
CLIENT_NS, SERVER_NS, HOST_NS = TAG + "c", TAG + "s", TAG + "h"
CLIENT_TAP, SERVER_TAP = TAG + "c0", TAG + "s0"
CLIENT_NET, SERVER_NET = "10.217.1", "10.217.2"
CLIENT, SERVER = CLIENT_NET + ".2", SERVER_NET + ".2"
ROUTER_C, ROUTER_S = CLIENT_NET + ".1", SERVER_NET + ".1"

# Answers with the address and port it sees the client at.
WHOAMI = """
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("you are %s port %d\\n" % self.client_address).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ct-e2e")
    sh("ip", "netns", "add", HOST_NS)
    sh("ip", "link", "set", "lo", "up", ns=HOST_NS)
    cfg = write_config(tmp / "cfg.json", [
        {"method": "host_iface_add", "params": {"port": "port0",
                                                "netns": HOST_NS}},
        {"method": "ip_addr_add", "params": {"address": ROUTER_C + "/24",
                                             "port": "port0"}},
        {"method": "ip_addr_add", "params": {"address": ROUTER_S + "/24",
                                             "port": "port1"}},
    ])
    d = Daemon(tmp, [f"net_tap0,iface={CLIENT_TAP}",
                     f"net_tap1,iface={SERVER_TAP}"],
               config=cfg, lcores=["--lcores", "0@0,1@1,2@0"])
    procs = []

    def spawn(ns, *cmd):
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *cmd],
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    try:
        d.start()
        setup_ns(CLIENT_NS, CLIENT_TAP, CLIENT_NET, "02:00:00:e7:00:02")
        setup_ns(SERVER_NS, SERVER_TAP, SERVER_NET, "02:00:00:e8:00:02")
        for port in ("8080", "8081"):
            spawn(SERVER_NS, "/usr/bin/python3", "-c", WHOAMI, SERVER, port)
        # The stand-in for the host's sshd, on every host address.
        spawn(HOST_NS, "/usr/bin/python3", "-c", WHOAMI, "0.0.0.0", "22")
        spawn(SERVER_NS, "iperf3", "-s", "-B", SERVER)
        for port in (8080, 8081):
            wait_listening(SERVER_NS, port)
        wait_listening(HOST_NS, 22)
        wait_listening(SERVER_NS, 5201)
        yield d
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        d.stop()
        for ns in (CLIENT_NS, SERVER_NS, HOST_NS):
            sh("ip", "netns", "del", ns, check=False)


def wait_listening(ns, port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = sh("ss", "-Hltn", f"sport = :{port}", ns=ns).stdout
        if out.strip():
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} in {ns}")


def curl(url, timeout=5):
    return sh("curl", "-sS", "--max-time", str(timeout), url, ns=CLIENT_NS,
              check=False)


def rules(d, text):
    d.call("iptables_restore", {"text": text})
    d.ctl("conntrack", "-F")
    d.wait_for(lambda: d.call("conntrack_config_get")["count"] == 0,
               what="an empty table")


def conntrack_drops(d):
    total = 0
    for port in ("port0", "port1"):
        drops = d.stats(port)["drops"]
        total += sum(v for k, v in drops.items()
                     if k.startswith("conntrack") or k == "nat_no_port")
    return total


FIREWALL = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 8080 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
"""


def test_stateful_firewall(net):
    d = net
    rules(d, FIREWALL)
    events = subprocess.Popen([PKTGATECTL, "-s", d.sock, "conntrack", "-E",
                               "-p", "tcp"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)     # the listener is registered
        r = curl(f"http://{SERVER}:8080/")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"you are {CLIENT} ")
        # Only NEW to port 80(80) passes: 8081 and pings do not.
        assert curl(f"http://{SERVER}:8081/", timeout=2).returncode != 0
        assert sh("ping", "-c", "1", "-W", "1", SERVER, ns=CLIENT_NS,
                  check=False).returncode != 0
        time.sleep(0.5)
    finally:
        events.terminate()
        out, _ = events.communicate(timeout=10)
    listing = d.ctl("conntrack", "-L", "-p", "tcp", "--dport", "8080").stdout
    assert "[ASSURED]" in listing and f"src={CLIENT}" in listing
    # The blocked attempt left no entry behind.
    assert "dport=8081" not in d.ctl("conntrack", "-L").stdout
    lines = out.splitlines()
    assert any(l.startswith("    [NEW] tcp      6 ") and "dport=8080" in l
               for l in lines), out
    assert any(l.startswith(" [UPDATE] tcp") and "ESTABLISHED" in l and
               "dport=8080" in l for l in lines), out


NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o port1 -j %s
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


@pytest.mark.parametrize("target", ["MASQUERADE",
                                    "SNAT --to-source " + ROUTER_S])
def test_server_sees_only_pktgate(net, target):
    d = net
    rules(d, NAT % target)
    for _ in range(3):      # several connections, spread on both workers
        r = curl(f"http://{SERVER}:8080/")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"you are {ROUTER_S} "), r.stdout
    listing = d.ctl("conntrack", "-L", "-n").stdout
    assert f"src={SERVER} dst={ROUTER_S} sport=8080" in listing
    assert conntrack_drops(d) == 0


def test_dnat_to_server(net):
    d = net
    rules(d, """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d %s/32 -p tcp -m tcp --dport 8888 -j DNAT --to-destination %s:8080
COMMIT
""" % (ROUTER_C, SERVER))
    r = curl(f"http://{ROUTER_C}:8888/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"you are {CLIENT} ")
    assert f"dst={ROUTER_C} sport=" in d.ctl("conntrack", "-L", "-g").stdout


def test_redirect_to_host_program(net):
    """Istio's trick: whatever the client aims at port 8022 is answered by
    the box's own program on port 22."""
    d = net
    rules(d, """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8022 -j REDIRECT --to-ports 22
COMMIT
""")
    before = d.stats("port0")["host_punted"]
    r = curl(f"http://{SERVER}:8022/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"you are {CLIENT} "), r.stdout
    assert d.stats("port0")["host_punted"] > before
    listing = d.ctl("conntrack", "-L", "-g").stdout
    assert f"dport=8022 src={ROUTER_C} dst={CLIENT} sport=22" in listing


def test_iperf3_through_nat(net):
    d = net
    rules(d, NAT % "MASQUERADE")
    r = sh("iperf3", "-c", SERVER, "-t", "10", "-J", ns=CLIENT_NS,
           check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    sent = res["end"]["sum_sent"]["bytes"]
    received = res["end"]["sum_received"]["bytes"]
    print("iperf3 through NAT: %.0f Mbit/s, %d retransmits" % (
        res["end"]["sum_received"]["bits_per_second"] / 1e6,
        res["end"]["sum_sent"].get("retransmits", -1)))
    # The sender counts what it wrote, the receiver what arrived before
    # the end: the stream itself completed, and conntrack lost nothing.
    assert sent > 0 and received >= 0.99 * sent
    assert conntrack_drops(d) == 0
    # The taps spread flows over both workers independently per port, so
    # the replies of this module's connections crossed workers: handed to
    # the owner of their connection, and still all went through.
    handed = sum(d.stats(p)["conntrack_handoff"] for p in ("port0", "port1"))
    print("handed over:", handed)
    assert handed > 0
