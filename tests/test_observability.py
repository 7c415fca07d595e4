# SPDX-License-Identifier: BSD-3-Clause
"""The Prometheus endpoint and the DPDK telemetry commands: known traffic
through the real daemon on net_pcap, then every figure read back through
each exporter and compared with what it must be."""
import http.client
import json
import shutil
import socket
import subprocess

import pytest
from scapy.all import IP, TCP, UDP, Ether, Raw

import promtext
from conftest import (PCAP_CLIENT as CLIENT, PCAP_MAC0 as MAC0,
                      PCAP_SERVER as SERVER, PCAP_CLIENT_MAC as CLIENT_MAC,
                      Daemon, free_port, pcap_daemon, pcap_router_config)

NB_UDP, NB_SSH = 7, 3


def fetch(port, method="GET", path="/metrics"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r, body


@pytest.fixture
def gateway(tmp_path):
    """Forwarded UDP, SSH dropped by a rule, one IPVS service, scraped."""
    pkts = [Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=SERVER) /
            UDP(sport=1000 + i, dport=53) / Raw(b"q" * 20)
            for i in range(NB_UDP)]
    pkts += [Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=SERVER) /
             TCP(sport=2000 + i, dport=22, flags="S") for i in range(NB_SSH)]
    port = free_port()
    cfg = pcap_router_config() + [
        {"method": "iptables", "params": {
            "command": "-A FORWARD -p tcp --dport 22 -j DROP"}},
        {"method": "ipset", "params": {"command": "create bad hash:net"}},
        {"method": "ipset", "params": {"command": "add bad 10.66.0.0/16"}},
        {"method": "iptables", "params": {
            "command": "-A INPUT -m set --match-set bad src -j DROP"}},
        {"method": "ipvsadm", "params": {
            "command": "-A -t 10.9.0.1:80 -s wrr"}},
        {"method": "ipvsadm", "params": {
            "command": "-a -t 10.9.0.1:80 -r 10.2.0.7:8080 -m -w 3"}},
        {"method": "ipvsadm", "params": {"command": "-A -f 7 -s rr"}},
        {"method": "ipvsadm", "params": {
            "command": "-a -f 7 -r 10.2.0.8 -g"}},
    ]
    d, _, _ = pcap_daemon(tmp_path, pkts, cfg,
                          extra=["--prometheus", str(port)])
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] ==
                   NB_UDP + NB_SSH, what="the input pcap to be read")
        d.wait_for(lambda: d.stats("port0")["forwarded"] == NB_UDP,
                   what="the UDP packets to be forwarded")
        yield d, port
    finally:
        d.stop()


def test_prometheus_exposition_is_strict_and_exact(gateway):
    d, port = gateway
    r, body = fetch(port)
    assert r.status == 200
    assert r.getheader("Content-Type") == \
        "text/plain; version=0.0.4; charset=utf-8"
    fams = promtext.parse(body)
    v = promtext.value
    assert v(fams, "pktgate_port_rx_packets_total", port="port0") == \
        NB_UDP + NB_SSH
    assert v(fams, "pktgate_port_forwarded_total", port="port0") == NB_UDP
    assert v(fams, "pktgate_port_drops_total", port="port0",
             reason="ruleset_drop") == NB_SSH
    assert v(fams, "pktgate_port_device_rx_packets_total", port="port0") \
        == NB_UDP + NB_SSH
    assert v(fams, "pktgate_port_queue_rx_packets_total", port="port0",
             queue="0") == NB_UDP + NB_SSH
    assert v(fams, "pktgate_port_worker_rx_packets_total", port="port0",
             worker="0") == NB_UDP + NB_SSH
    assert v(fams, "pktgate_rule_packets_total", table="filter",
             chain="FORWARD", rule="1") == NB_SSH
    assert v(fams, "pktgate_chain_policy_packets_total", table="filter",
             chain="FORWARD") == NB_UDP
    assert v(fams, "pktgate_port_info", port="port0", driver="net_pcap",
             mac=MAC0) == 1
    assert v(fams, "pktgate_set_entries", set="bad") == 1
    assert v(fams, "pktgate_set_references", set="bad") == 1
    assert v(fams, "pktgate_set_maxelem", set="bad") == 65536
    # net_pcap's link stays up; the worker loops (the watchdog's view).
    assert v(fams, "pktgate_port_link_up", port="port0") == 1
    assert v(fams, "pktgate_port_carrier_changes_total", port="port0") == 0
    assert v(fams, "pktgate_worker_stalled", worker="0") == 0
    assert v(fams, "pktgate_worker_stalls_total", worker="0") == 0
    # node_exporter's IPVS names and labels, for its dashboards.
    backend = dict(local_address="10.9.0.1", local_port="80",
                   remote_address="10.2.0.7", remote_port="8080",
                   proto="TCP", local_mark="")
    assert v(fams, "node_ipvs_backend_weight", **backend) == 3
    assert v(fams, "node_ipvs_backend_connections_active", **backend) == 0
    assert v(fams, "pktgate_ipvs_backend_up", **backend) == 1
    fwm = dict(local_address="", local_port="0", remote_address="10.2.0.8",
               remote_port="0", proto="FWM", local_mark="7")
    assert v(fams, "node_ipvs_backend_weight", **fwm) == 1
    assert fams["node_ipvs_connections_total"]["type"] == "counter"
    assert v(fams, "node_nf_conntrack_entries_limit") == \
        d.call("conntrack_stats_get")["max"]
    assert v(fams, "node_nf_conntrack_entries") == \
        d.call("conntrack_stats_get")["count"]
    # Every pktgate counter of port_stats_get is exported, by its name.
    st = d.stats("port0")
    for key, val in st.items():
        if isinstance(val, int) and key != "drops_total":
            assert v(fams, f"pktgate_port_{key}_total", port="port0") == val
    for reason, val in st["drops"].items():
        assert v(fams, "pktgate_port_drops_total", port="port0",
                 reason=reason) == val
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=body,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


def test_prometheus_http_protocol(gateway):
    d, port = gateway
    r, body = fetch(port, "HEAD")
    assert r.status == 200 and body == "" and \
        int(r.getheader("Content-Length")) > 1000
    assert fetch(port, "GET", "/")[0].status == 404
    assert fetch(port, "POST")[0].status == 405
    assert fetch(port, "GET", "/metrics?name[]=x")[0].status == 200
    # A client that connects and says nothing neither blocks others nor
    # keeps its slot for ever.
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        assert fetch(port)[0].status == 200
        d.call("system_info")
        idle.settimeout(10)
        assert idle.recv(100) == b""     # closed by the server's timeout
    finally:
        idle.close()
    # Loopback by default: nothing listens on the other addresses.
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"],
                               capture_output=True, text=True).stdout
    assert f"127.0.0.1:{port}" in listening
    assert listening.count("LISTEN") == 1


@pytest.mark.parametrize("spec,reason", [
    ("0", "not [ADDR:]PORT"),
    ("localhost:9100", "not [ADDR:]PORT"),
    ("127.0.0.1:65536", "not [ADDR:]PORT"),
])
def test_prometheus_bad_address_stops_startup(tmp_path, spec, reason):
    d = Daemon(tmp_path, ["net_null0"], extra=["--prometheus", spec])
    d.start(expect_ready=False)
    try:
        assert d.proc.wait(30) != 0
        assert reason in d.log()
    finally:
        d.stop()


def test_prometheus_port_in_use_stops_startup(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        d = Daemon(tmp_path, ["net_null0"],
                   extra=["--prometheus", str(s.getsockname()[1])])
        d.start(expect_ready=False)
        try:
            assert d.proc.wait(30) != 0
            assert "Address already in use" in d.log()
        finally:
            d.stop()
    finally:
        s.close()


def telemetry(d, *commands):
    """Ask dpdk-telemetry.py (DPDK's own client) each command in turn."""
    p = subprocess.run(["dpdk-telemetry.py", "-f", d.prefix],
                       input="\n".join(commands) + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out, dec, pos = [], json.JSONDecoder(), 0
    text = p.stdout
    while True:
        pos = text.find("{", pos)
        if pos < 0:
            return out
        obj, pos = dec.raw_decode(text, pos)
        out.append(obj)


def test_telemetry_commands(gateway):
    d, _ = gateway
    replies = telemetry(d, "/pktgate/port/list", "/pktgate/port/stats,port0",
                        "/pktgate/drops", "/pktgate/ipvs/list",
                        "/pktgate/ipvs/service,tcp:10.9.0.1:80",
                        "/pktgate/ipvs/server,tcp:10.9.0.1:80,10.2.0.7:8080",
                        "/pktgate/conntrack/stats", "/pktgate/info",
                        "/pktgate/worker/stats,0",
                        "/pktgate/port/stats,nosuchport",
                        "/help,/pktgate/ipvs/server")
    by_cmd = {}
    for r in replies:
        for cmd, val in r.items():
            if val is not None:
                by_cmd[cmd] = val
    assert by_cmd["/pktgate/port/list"] == ["port0", "port1"]
    st = by_cmd["/pktgate/port/stats"]
    assert st["rx_packets"] == NB_UDP + NB_SSH
    assert st["drops_ruleset_drop"] == NB_SSH
    assert st["device_ipackets"] == NB_UDP + NB_SSH
    assert by_cmd["/pktgate/drops"]["ruleset_drop"] == NB_SSH
    assert sorted(by_cmd["/pktgate/ipvs/list"]) == ["fwmark:7",
                                                    "tcp:10.9.0.1:80"]
    svc = by_cmd["/pktgate/ipvs/service"]
    assert svc["scheduler"] == "wrr" and svc["real_servers"] == \
        ["10.2.0.7:8080"]
    assert by_cmd["/pktgate/ipvs/server"]["weight"] == 3
    assert by_cmd["/pktgate/conntrack/stats"]["max"] == \
        d.call("conntrack_stats_get")["max"]
    assert by_cmd["/pktgate/info"]["version"] == \
        d.call("system_info")["version"]
    assert by_cmd["/pktgate/worker/stats"]["loops"] > 0
    assert "SERVICE,ADDR:PORT" in by_cmd["/help"]["/pktgate/ipvs/server"]
    # A port that does not exist: DPDK's error value, null.
    nulls = [r for r in replies if r.get("/pktgate/port/stats", 0) is None]
    assert len(nulls) == 1
