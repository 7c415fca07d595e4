# SPDX-License-Identifier: BSD-3-Clause
"""The host path: programs in the host's network namespace talk through
pktgate's ports via host interfaces, with two worker lcores.

    client ns --tap-- port0 [pktgate] port1 --tap-- server ns
                        |                |
                 port0 (tap)      port1 (tap)      <- host ns (a namespace
                                                      playing the box's host)
"""
import json
import os
import subprocess
import time

import pytest

from conftest import setup_ns, sh, write_config

TAG = "ph%d" % (os.getpid() % 100000)
CLIENT_NS, SERVER_NS, HOST_NS = TAG + "c", TAG + "s", TAG + "h"
CLIENT_TAP, SERVER_TAP = TAG + "c0", TAG + "s0"
# Inside namespaces only; chosen not to overlap the host's own networks.
CLIENT_NET, SERVER_NET = "10.212.1", "10.212.2"
PGT_MAC0 = "02:70:68:00:00:01"


def host_addrs(ifname):
    out = sh("ip", "-j", "addr", "show", "dev", ifname, ns=HOST_NS).stdout
    return {"%s/%d" % (a["local"], a["prefixlen"])
            for i in json.loads(out) for a in i["addr_info"]
            if a["family"] == "inet"}


def kernel_stat(ifname, what):
    return int(sh("cat", f"/sys/class/net/{ifname}/statistics/{what}",
                  ns=HOST_NS).stdout)


# A server that answers with the address it sees the client at.
WHOAMI = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("you are %s\\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


def curl(url, ns, deadline_s=20):
    deadline = time.time() + deadline_s
    while True:
        r = sh("curl", "-sS", "--max-time", "5", url, ns=ns, check=False)
        if r.returncode == 0 or time.time() > deadline:
            return r
        time.sleep(0.5)     # the server may still be starting


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from conftest import Daemon
    tmp = tmp_path_factory.mktemp("host")
    sh("ip", "netns", "add", HOST_NS)
    sh("ip", "link", "set", "lo", "up", ns=HOST_NS)
    cfg = write_config(tmp / "cfg.json", [
        {"method": "host_iface_add", "params": {"port": "port0",
                                                "netns": HOST_NS}},
        {"method": "host_iface_add", "params": {"port": "port1",
                                                "netns": HOST_NS}},
        {"method": "ip_addr_add", "params": {"address": CLIENT_NET + ".1/24",
                                             "port": "port0"}},
        {"method": "ip_addr_add", "params": {"address": SERVER_NET + ".1/24",
                                             "port": "port1"}},
    ])
    d = Daemon(tmp, [f"net_tap0,iface={CLIENT_TAP},mac={PGT_MAC0}",
                     f"net_tap1,iface={SERVER_TAP}"],
               config=cfg, lcores=["--lcores", "0@0,1@1,2@0"],
               # Four tap ports of two 1024-descriptor RX rings each.
               extra=["--mbufs", "16383"])
    procs = []
    try:
        d.start()
        setup_ns(CLIENT_NS, CLIENT_TAP, CLIENT_NET, "02:00:00:e1:00:02")
        setup_ns(SERVER_NS, SERVER_TAP, SERVER_NET, "02:00:00:e2:00:02")
        for ns, addr in ((HOST_NS, CLIENT_NET + ".1"),
                         (SERVER_NS, SERVER_NET + ".2")):
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", WHOAMI,
                 addr, "8080"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield {"daemon": d, "procs": procs}
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


def test_host_interfaces_mirror_ports(net):
    d = net["daemon"]
    ports = {p["name"]: p for p in d.call("port_list")}
    assert ports["port0"]["host_iface"] == "port0-host"
    assert ports["port0-host"]["host_of"] == "port0"
    assert ports["port0-host"]["rx_queues"] == 2
    link = json.loads(sh("ip", "-j", "link", "show", "port0",
                         ns=HOST_NS).stdout)[0]
    assert link["address"] == PGT_MAC0
    assert link["mtu"] == 1500
    assert host_addrs("port0") == {CLIENT_NET + ".1/24"}
    assert host_addrs("port1") == {SERVER_NET + ".1/24"}


def test_address_changes_reach_the_host(net):
    d = net["daemon"]
    d.ctl("ip", "addr", "add", CLIENT_NET + ".5/24", "dev", "port0")
    assert host_addrs("port0") == {CLIENT_NET + ".1/24", CLIENT_NET + ".5/24"}
    d.ctl("ip", "addr", "del", CLIENT_NET + ".5/24", "dev", "port0")
    assert host_addrs("port0") == {CLIENT_NET + ".1/24"}


def test_host_interface_takes_no_addresses(net):
    r = net["daemon"].ctl("ip", "addr", "add", "10.212.9.1/24", "dev",
                          "port0-host", check=False)
    assert r.returncode == 1
    assert "host interface of port0" in r.stderr


def test_client_reaches_host_server(net):
    d = net["daemon"]
    before = d.stats("port0")["host_punted"]
    r = curl(f"http://{CLIENT_NET}.1:8080/", CLIENT_NS)
    assert r.returncode == 0, r.stderr
    # The host's server sees the client's real address.
    assert r.stdout == f"you are {CLIENT_NET}.2\n"
    st = d.stats("port0")
    assert st["host_punted"] > before
    assert st["host_injected"] > 0


def test_host_reaches_server_through_pktgate(net):
    d = net["daemon"]
    r = curl(f"http://{SERVER_NET}.2:8080/", HOST_NS)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"you are {SERVER_NET}.1\n"
    assert d.stats("port1")["host_injected"] > 0


def test_ping_is_answered_by_the_fast_path(net):
    d = net["daemon"]
    # Resolve both ways first: ARP replies for pktgate go to the host too.
    sh("ping", "-c", "1", "-W", "2", CLIENT_NET + ".1", ns=CLIENT_NS)
    time.sleep(0.5)
    host_rx = kernel_stat("port0", "rx_packets")
    replies = d.stats("port0")["icmp_echo_replies"]
    r = sh("ping", "-c", "20", "-i", "0.05", "-W", "2", CLIENT_NET + ".1",
           ns=CLIENT_NS, check=False)
    assert r.returncode == 0, r.stdout
    assert "ttl=64" in r.stdout
    assert d.stats("port0")["icmp_echo_replies"] - replies == 20
    # The host never saw them (a stray neighbour probe at most).
    assert kernel_stat("port0", "rx_packets") - host_rx <= 2


def test_routes_imported_from_the_host(net):
    d = net["daemon"]
    # A route a routing daemon would install: a network behind the server.
    sh("ip", "addr", "add", "10.213.0.1/32", "dev", "lo", ns=SERVER_NS)
    sh("ip", "route", "add", "10.213.0.0/16", "via", SERVER_NET + ".2",
       "dev", "port1", "proto", "bird", ns=HOST_NS)
    sh("ip", "route", "add", "10.214.0.0/16", "via", SERVER_NET + ".77",
       "dev", "port1", "proto", "static", ns=HOST_NS)
    r = sh("ping", "-c", "1", "-W", "1", "10.213.0.1", ns=CLIENT_NS,
           check=False)
    assert r.returncode != 0
    out = json.loads(d.ctl("-j", "ip", "route", "import").stdout)
    assert {"prefix": "10.213.0.0/16", "gateway": SERVER_NET + ".2",
            "port": "port1"} in out["imported"]
    assert {"prefix": "10.214.0.0/16", "gateway": SERVER_NET + ".77",
            "port": "port1"} in out["imported"]
    # Connected routes are pktgate's own already: never imported.
    assert all(not i["prefix"].startswith("10.212.") for i in out["imported"])
    r = sh("ping", "-c", "1", "-W", "2", "10.213.0.1", ns=CLIENT_NS,
           check=False)
    assert r.returncode == 0, r.stdout
    # Importing again changes nothing and says why.
    out = json.loads(d.ctl("-j", "ip", "route", "import").stdout)
    assert out["imported"] == []
    assert {"prefix": "10.213.0.0/16", "port": "port1",
            "reason": "pktgate has a route for this prefix"} in out["skipped"]
    d.call("ip_route_del", {"prefix": "10.214.0.0/16"})


def test_bad_frames_from_the_host_are_counted(net):
    d = net["daemon"]
    before = d.stats("port0-host")["drops"]
    script = f"""
from scapy.all import Ether, IP, UDP, ARP, Raw, sendp
mac = "{PGT_MAC0}"
bad_cksum = Ether(src=mac, dst="02:00:00:e1:00:02") / IP(
    src="{CLIENT_NET}.1", dst="{CLIENT_NET}.2", chksum=0x1234) / UDP()
bad_ihl = Ether(src=mac) / Raw(bytes(IP(src="{CLIENT_NET}.1",
    dst="{CLIENT_NET}.2", ihl=3) / UDP()))
bad_ihl[Ether].type = 0x0800
truncated = Ether(src=mac) / Raw(bytes(IP(src="{CLIENT_NET}.1",
    dst="{CLIENT_NET}.2", len=400) / UDP()))
truncated[Ether].type = 0x0800
short_arp = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"x" * 10)
spoofed_arp = Ether(src="02:00:00:00:66:66", dst="ff:ff:ff:ff:ff:ff") / ARP(
    hwsrc="02:00:00:00:66:66", psrc="{CLIENT_NET}.1", pdst="{CLIENT_NET}.2")
sendp([bad_cksum, bad_ihl, truncated, short_arp, spoofed_arp], iface="port0",
      verbose=False)
"""
    sh("/usr/bin/python3", "-c", script, ns=HOST_NS)
    want = {"ip_bad_checksum": 1, "ip_bad_ihl": 1, "ip_bad_length": 1,
            "arp_malformed": 1, "host_mac_mismatch": 1}

    def counted():
        drops = d.stats("port0-host")["drops"]
        return all(drops[k] - before[k] >= v for k, v in want.items())
    d.wait_for(counted, what="host-side drops counted")
    # Forwarding is unaffected.
    r = sh("ping", "-c", "1", "-W", "2", SERVER_NET + ".2", ns=CLIENT_NS,
           check=False)
    assert r.returncode == 0


def test_host_interface_down_does_not_stop_forwarding(net):
    d = net["daemon"]
    sh("ip", "link", "set", "port0", "down", ns=HOST_NS)
    try:
        r = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER_NET + ".2",
               ns=CLIENT_NS, check=False)
        assert r.returncode == 0, r.stdout
        r = curl(f"http://{SERVER_NET}.2:8080/", CLIENT_NS, deadline_s=5)
        assert r.stdout == f"you are {CLIENT_NET}.2\n"
        # What cannot reach the host is counted, not lost silently.
        sh("curl", "-sS", "--max-time", "1", f"http://{CLIENT_NET}.1:8080/",
           ns=CLIENT_NS, check=False)
        assert d.stats("port0-host")["drops"]["host_tx_failed"] > 0
    finally:
        sh("ip", "link", "set", "port0", "up", ns=HOST_NS)
    # The host path comes back with the interface.
    r = curl(f"http://{CLIENT_NET}.1:8080/", CLIENT_NS)
    assert r.stdout == f"you are {CLIENT_NET}.2\n"


def test_saved_config_recreates_host_interfaces(net):
    saved = net["daemon"].call("save_config")["config"]
    calls = [c for c in saved if c["method"] == "host_iface_add"]
    assert calls == [
        {"method": "host_iface_add", "params": {
            "port": "port0", "ifname": "port0", "name": "port0-host",
            "netns": HOST_NS}},
        {"method": "host_iface_add", "params": {
            "port": "port1", "ifname": "port1", "name": "port1-host",
            "netns": HOST_NS}},
    ]
    methods = [c["method"] for c in saved]
    assert methods.index("host_iface_add") < methods.index("ip_addr_add")


def test_host_iface_errors(net):
    d = net["daemon"]
    from conftest import RpcError
    for params, msg in (
            ({"port": "port0"}, "has a host interface already"),
            ({"port": "nope"}, "no port named"),
            ({"port": "port0-host"}, "is a host interface itself")):
        with pytest.raises(RpcError) as e:
            d.call("host_iface_add", params)
        assert msg in e.value.message
    r = d.ctl("host", "add", "port1", "netns", HOST_NS, check=False)
    assert r.returncode == 1
    assert "port1 has a host interface already (port1-host)" in r.stderr
    r = d.ctl("ip", "link")
    assert "host interface of port0" in r.stdout


def test_buffers_for_rx_rings(daemons):
    """A port whose receive rings would drain the packet pool is refused
    with the reason, at start-up and when a host interface is added;
    the running state is left as it was."""
    from conftest import RpcError
    tap = TAG + "b0"
    lcores = ["--lcores", "0@0,1@1,2@0"]
    d = daemons([f"net_tap0,iface={tap}"], lcores=lcores,
                extra=["--mbufs", "2047"])
    d.start(expect_ready=False)
    assert d.proc.wait(30) != 0
    assert "give more --mbufs" in d.log()
    d = daemons([f"net_tap0,iface={tap}"], lcores=lcores,
                extra=["--mbufs", "4095"]).start()
    with pytest.raises(RpcError) as e:
        d.call("host_iface_add", {"port": "port0", "ifname": TAG + "b1"})
    assert "would leave too few packet buffers" in e.value.message
    assert [p["name"] for p in d.call("port_list")] == ["port0"]
    assert "host_iface" not in d.call("port_list")[0]
    assert d.call("system_info")["mbufs"]["available"] > 1024
