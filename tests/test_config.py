# SPDX-License-Identifier: BSD-3-Clause
"""--config replays RPC calls; save_config produces the same document."""
import json

from conftest import write_config

PORTS = ["net_ring0", "net_ring1", "net_ring2"]

CALLS = [
    {"method": "port_set", "params": {"port": "port0", "name": "lan"}},
    {"method": "port_set", "params": {"port": "port2", "mtu": 1400,
                                      "up": False}},
    {"method": "ip_addr_add", "params": {"address": "10.10.0.1/24",
                                         "port": "lan"}},
    {"method": "ip_addr_add", "params": {"address": "10.10.0.2/24",
                                         "port": "lan"}},
    {"method": "ip_addr_add", "params": {"address": "10.20.0.1/30",
                                         "port": "port1"}},
    {"method": "ip_route_add", "params": {"prefix": "0.0.0.0/0",
                                          "gateway": "10.20.0.2",
                                          "port": "port1"}},
    {"method": "ip_route_add", "params": {"prefix": "10.66.0.0/16",
                                          "type": "blackhole"}},
    {"method": "ip_route_add", "params": {"prefix": "10.77.0.0/16",
                                          "port": "lan"}},
    {"method": "ip_neigh_add", "params": {"address": "10.10.0.9",
                                          "port": "lan",
                                          "mac": "02:00:00:00:00:09"}},
    {"method": "icmp_ratelimit_set", "params": {"rate": 200, "burst": 20}},
]


def test_load_save_roundtrip(daemons, tmp_path):
    cfg = write_config(tmp_path / "in.json", CALLS)
    d = daemons(PORTS, config=cfg).start()
    saved = d.call("save_config")
    assert saved == {"version": 1, "config": CALLS}
    # pktgatectl save prints the same document, loadable as is.
    text = d.ctl("save").stdout
    assert json.loads(text) == saved
    d.stop()
    again = tmp_path / "saved.json"
    again.write_text(text)
    d2 = daemons(PORTS, config=again).start()
    assert d2.call("save_config") == saved
    routes = {r["prefix"]: r for r in d2.call("ip_route_list")}
    assert routes["0.0.0.0/0"]["gateway"] == "10.20.0.2"
    assert routes["10.66.0.0/16"]["type"] == "blackhole"


def test_empty_config_saves_empty(daemons, tmp_path):
    d = daemons(PORTS, config=write_config(tmp_path / "e.json", [])).start()
    assert d.call("save_config") == {"version": 1, "config": []}


def start_failing(daemons, path):
    d = daemons(PORTS, config=path)
    d.start(expect_ready=False)
    assert d.proc.wait(30) == 1
    return d.log()


def test_bad_call_reports_file_and_line(daemons, tmp_path):
    calls = CALLS[:3] + [{"method": "ip_addr_add",
                          "params": {"address": "10.10.0.5/24",
                                     "port": "nope"}}]
    path = write_config(tmp_path / "bad.json", calls)
    lines = path.read_text().splitlines()
    line = [i for i, t in enumerate(lines, 1) if "nope" in t][0]
    log = start_failing(daemons, path)
    # The call starts a few lines above its "port" member.
    reported = int(log.split(str(path) + ":")[1].split(":")[0])
    assert line - 6 <= reported <= line, log
    assert "ip_addr_add: no port named 'nope'" in log


def test_syntax_error_reports_line(daemons, tmp_path):
    path = tmp_path / "syntax.json"
    path.write_text('{"version": 1,\n "config": [\n  {"method": "x",}\n]}\n')
    log = start_failing(daemons, path)
    assert f"{path}:3:" in log


def test_unknown_method_and_version(daemons, tmp_path):
    log = start_failing(daemons, write_config(
        tmp_path / "m.json", [{"method": "frobnicate", "params": {}}]))
    assert "method 'frobnicate' not found" in log
    path = tmp_path / "v.json"
    path.write_text('{"version": 2, "config": []}')
    assert "unsupported version 2" in start_failing(daemons, path)
    missing = tmp_path / "absent.json"
    assert "No such file or directory" in start_failing(daemons, missing)


def test_example_config_loads(daemons):
    import os
    from conftest import ROOT
    path = os.path.join(ROOT, "config", "router.json")
    d = daemons(["net_ring0", "net_ring1"], config=path).start()
    with open(path) as f:
        assert d.call("save_config") == json.load(f)


def test_config_save_writes_the_file_atomically(daemons, tmp_path):
    """config_save (pktgatectl save --to-config) writes the running state
    over the --config file; a restart from it gives the same state."""
    sub = tmp_path / "etc"
    sub.mkdir()
    path = write_config(sub / "pktgate.json", CALLS[:3])
    d = daemons(PORTS, config=path).start()
    d.ctl("ip", "addr", "add", "10.30.0.1/24", "dev", "port1")
    d.ctl("iptables", "-A", "FORWARD", "-p", "tcp", "--dport", "22",
          "-j", "DROP")
    # Every kind of state: routes, sets, services with checks, timeouts.
    d.ctl("ip", "route", "add", "10.99.0.0/16", "via", "10.30.0.7")
    d.ctl("ipset", "create", "bad", "hash:net")
    d.ctl("ipset", "add", "bad", "10.66.0.0/16")
    d.ctl("iptables", "-A", "FORWARD", "-m", "set", "--match-set", "bad",
          "src", "-j", "NFLOG", "--nflog-group", "3")
    d.ctl("ipvsadm", "-A", "-t", "10.30.0.100:80", "-s", "wrr", "--check",
          "tcp", "--check-interval", "7")
    d.ctl("ipvsadm", "-a", "-t", "10.30.0.100:80", "-r", "10.30.0.8:8080",
          "-m", "-w", "4")
    d.call("conntrack_config_set", {"udp_timeout": 45})
    out = d.ctl("save", "--to-config").stdout
    assert out == "saved to %s\n" % path
    running = d.call("save_config")
    assert json.loads(path.read_text()) == running
    assert [p.name for p in sub.iterdir()] == ["pktgate.json"]
    d.stop()
    again = daemons(PORTS, config=path).start()
    assert again.call("save_config") == running
    methods = [c["method"] for c in running["config"]]
    for m in ("ip_route_add", "ipset_restore", "iptables_restore",
              "ipvsadm_restore", "conntrack_config_set"):
        assert m in methods, methods
    # A failed save says why and leaves nothing half-written.
    path.unlink()
    sub.rmdir()
    r = again.ctl("save", "--to-config", check=False)
    assert r.returncode == 1
    assert "cannot save to %s: No such file or directory (the file is " \
        "unchanged)" % path in r.stderr


def test_config_save_needs_a_file(daemons):
    d = daemons(PORTS).start()
    r = d.ctl("save", "--to-config", check=False)
    assert r.returncode == 1
    assert "started without --config" in r.stderr
