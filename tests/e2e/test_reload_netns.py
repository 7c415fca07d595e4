# SPDX-License-Identifier: BSD-3-Clause
"""config_reload under traffic: fifty reloads that each replace the filter
table, a route, a set and an IPVS service while a UDP stream and a TCP
connection run through pktgate on net_tap; no packet is lost and the
connection lives on (its conntrack entry is kept)."""
import json
import os
import subprocess
import time

from conftest import UDP_RECEIVER as RECEIVER, UDP_SENDER as SENDER, \
    NsRouter

TAG = "rl%d" % (os.getpid() % 100000)
CLIENT_NET, SERVER_NET = "10.220.1", "10.220.2"


ECHO_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7000))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(30)
while True:
    data = c.recv(4096)
    if not data:
        break
    c.sendall(data)
"""

# One connection, a line every 20 ms for @2 seconds, each echoed back.
ECHO_CLIENT = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], 7000), timeout=10)
f = c.makefile("rb")
end, n = time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < end:
    c.sendall(b"line %d\\n" % n)
    assert f.readline() == b"line %d\\n" % n
    n += 1
    time.sleep(0.02)
print(n)
"""

RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p udp -m udp --dport 9999 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 7000 -m conntrack --ctstate NEW -j ACCEPT
%s
COMMIT
"""


def config(variant):
    calls = [{"method": "ip_addr_add",
              "params": {"address": f"{net}.1/24", "port": f"port{i}"}}
             for i, net in enumerate((CLIENT_NET, SERVER_NET))]
    extra = "-A FORWARD -p tcp -m tcp --dport %d -j DROP" % (1000 + variant)
    calls += [
        {"method": "ip_route_add", "params": {
            "prefix": "10.221.%d.0/24" % variant, "type": "blackhole"}},
        {"method": "ipset_restore", "params": {"command":
            "create s%d hash:ip\nadd s%d 10.221.0.%d\n" % ((variant,) * 3)}},
        {"method": "iptables_restore", "params": {"text": RULES % extra}},
        {"method": "ipvsadm_restore", "params": {"command":
            "-A -t 10.220.9.%d:80 -s rr\n"
            "-a -t 10.220.9.%d:80 -r %s.2:80 -m\n" % (
                variant + 1, variant + 1, SERVER_NET)}},
    ]
    return {"version": 1, "config": calls}


def test_reloads_under_traffic_lose_nothing(tmp_path):
    router = NsRouter(tmp_path, TAG, (CLIENT_NET, SERVER_NET),
                      ("02:00:00:f1:20:02", "02:00:00:f2:20:02"))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(config(0)))
    ns = ["ip", "netns", "exec"]
    with router as r:
        d = r.daemon
        assert d.call("config_reload")["changes"] == []
        r.procs.append(subprocess.Popen(
            ns + [r.server_ns, "/usr/bin/python3", "-c", ECHO_SERVER,
                  SERVER_NET + ".2"]))
        receiver = subprocess.Popen(
            ns + [r.server_ns, "/usr/bin/python3", "-c", RECEIVER,
                  SERVER_NET + ".2", "3"], stdout=subprocess.PIPE, text=True)
        r.procs.append(receiver)
        time.sleep(0.5)
        client = subprocess.Popen(
            ns + [r.client_ns, "/usr/bin/python3", "-c", ECHO_CLIENT,
                  SERVER_NET + ".2", "5"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        r.procs.append(client)
        count = 5000
        sender = subprocess.Popen(
            ns + [r.client_ns, "/usr/bin/python3", "-c", SENDER,
                  SERVER_NET + ".2", str(count), "1000"])
        r.procs.append(sender)
        changes = 0
        for i in range(1, 51):
            cfg.write_text(json.dumps(config(i % 2)))
            changes += len(d.call("config_reload")["changes"])
            time.sleep(0.05)
        sender.wait(60)
        out, _ = receiver.communicate(timeout=60)
        lines, err = client.communicate(timeout=60)
        assert client.returncode == 0, err
        # Each reload changed the route, the set, the table, the service.
        assert changes >= 50 * 4
        assert int(out) == count
        assert int(lines) > 100
        st = d.stats("port0")["drops"]
        assert st.get("ruleset_drop", 0) == 0, st
