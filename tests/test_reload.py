# SPDX-License-Identifier: BSD-3-Clause
"""config_reload (pktgatectl reload, systemctl reload): the running state
becomes what a restart with the file gives, changing only what differs; a
failure changes nothing."""
import json

import pytest

from conftest import RpcError, write_config

PORTS = ["net_ring0", "net_ring1", "net_ring2"]

MANGLE = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --dport 25 -j MARK --set-xmark 0x7/0xffffffff
COMMIT
"""

RULES_A = MANGLE + """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:blocked - [0:0]
-A FORWARD -m set --match-set bad src -j blocked
-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT
-A blocked -j DROP
COMMIT
"""

# filter changes (a rule more, the user chain and the set rule gone), nat
# goes, mangle stays.
RULES_B = MANGLE + """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -p udp -m udp --dport 53 -j ACCEPT
-A FORWARD -m set --match-set good dst -j ACCEPT
COMMIT
"""

IPVS_A = """-A -t 10.10.0.100:80 -s rr
-a -t 10.10.0.100:80 -r 10.10.0.11:80 -m -w 1
-a -t 10.10.0.100:80 -r 10.10.0.12:80 -m -w 1
-A -u 10.10.0.100:53 -s wrr
-a -u 10.10.0.100:53 -r 10.10.0.21:53 -m -w 1
-A -t 10.10.0.101:443 -s rr
-a -t 10.10.0.101:443 -r 10.10.0.31:443 -m -w 1
"""

# :80 loses one server and another changes weight; :53 goes; :443 gets a
# new scheduler; :8080 is new. Hand-written: ports and weights left out.
IPVS_B = """ipvsadm -A -t 10.10.0.100:80 -s rr
-a -t 10.10.0.100:80 -r 10.10.0.11 -m -w 3
-A -t 10.10.0.101:443 -s wlc
-a -t 10.10.0.101:443 -r 10.10.0.31 -m
-A -t 10.10.0.102:8080 -s rr
-a -t 10.10.0.102:8080 -r 10.10.0.41:80 -m
"""


def call(method, **params):
    return {"method": method, "params": params}


BASE = [
    call("port_set", port="port0", name="lan"),
    call("port_set", port="port1", name="wan"),
]

CONFIG_A = BASE + [
    call("port_set", port="port2", mtu=1400),
    call("ip_addr_add", address="10.10.0.1/24", port="lan"),
    call("ip_addr_add", address="10.20.0.1/30", port="wan"),
    call("ip_addr_add", address="10.40.0.1/24", port="port2"),
    call("ip_route_add", prefix="0.0.0.0/0", gateway="10.20.0.2"),
    call("ip_route_add", prefix="10.66.0.0/16", type="blackhole"),
    call("ip_route_add", prefix="10.77.0.0/16", gateway="10.10.0.7"),
    call("ip_neigh_add", address="10.10.0.9", port="lan",
         mac="02:00:00:00:00:09"),
    call("ip_neigh_add", address="10.10.0.8", port="lan",
         mac="02:00:00:00:00:08"),
    call("icmp_ratelimit_set", rate=200, burst=20),
    call("conntrack_config_set", udp_timeout=45),
    call("ipset_restore", command="create bad hash:net\n"
         "add bad 10.66.0.0/16\nadd bad 10.67.0.0/16\n"
         "create old hash:ip\nadd old 10.1.1.1\n"),
    call("iptables_restore", text=RULES_A),
    call("ipvs_config_set", tcp_timeout=600),
    call("ipvsadm_restore", command=IPVS_A),
]

CONFIG_B = BASE + [
    call("port_set", port="wan", up=False),
    call("ip_addr_add", address="10.10.0.1/24", port="lan"),
    call("ip_addr_add", address="10.20.0.1/30", port="wan"),
    call("ip_addr_add", address="10.50.0.1/24", port="port2"),
    call("ip_route_add", prefix="0.0.0.0/0", gateway="10.10.0.254"),
    call("ip_route_add", prefix="10.88.0.0/16", type="prohibit"),
    call("ip_route_add", prefix="10.77.0.0/16", gateway="10.10.0.7",
         port="lan"),
    call("ip_neigh_add", address="10.10.0.9", port="lan",
         mac="02:00:00:00:00:99"),
    call("conntrack_config_set", tcp_timeout_established=3600),
    call("ipset_restore", command="create bad hash:net maxelem 100\n"
         "add bad 10.66.0.0/16\n"
         "create good hash:net\nadd good 10.9.0.0/16\n"),
    call("iptables_restore", text=RULES_B),
    call("ipvsadm_restore", command=IPVS_B),
]


def reload(d, path=None, dry_run=None):
    params = {}
    if path is not None:
        params["text"] = path.read_text()
        params["name"] = path.name
    if dry_run is not None:
        params["dry_run"] = dry_run
    return d.call("config_reload", params)


def saved_rules(d, table):
    """iptables-save of table with counters, without its dated comments."""
    text = d.call("iptables_save", {"table": table, "counters": True})["text"]
    return [line for line in text.splitlines() if not line.startswith("#")]


def fresh_state(daemons, path):
    d = daemons(PORTS, config=path).start()
    try:
        return d.call("save_config")
    finally:
        d.stop()


@pytest.mark.parametrize("first,second", [(CONFIG_A, CONFIG_B),
                                          (CONFIG_B, CONFIG_A),
                                          (CONFIG_A, BASE)])
def test_reload_gives_what_a_restart_gives(daemons, tmp_path, first, second):
    a = write_config(tmp_path / "a.json", first)
    b = write_config(tmp_path / "b.json", second)
    want = fresh_state(daemons, b)
    d = daemons(PORTS, config=a).start()
    out = reload(d, b)
    assert out["changes"], out
    assert d.call("save_config") == want
    # Once there, the same file changes nothing.
    assert reload(d, b)["changes"] == []


def test_reload_changes_only_what_differs(daemons, tmp_path):
    a = write_config(tmp_path / "a.json", CONFIG_A)
    d = daemons(PORTS, config=a).start()
    # The file as loaded: nothing to do, even written by hand.
    assert reload(d)["changes"] == []
    edited = [c for c in CONFIG_A if c["method"] != "icmp_ratelimit_set"]
    edited = [c if c["method"] != "ip_route_add" or
              c["params"]["prefix"] != "0.0.0.0/0" else
              call("ip_route_add", prefix="0.0.0.0/0", gateway="10.20.0.2",
                   port="wan")
              for c in edited]
    edited.append(call("ip_route_add", prefix="10.99.0.0/16",
                       gateway="10.20.0.2"))
    changes = reload(d, write_config(tmp_path / "e.json", edited))["changes"]
    # The default route is the same route spelled out: untouched. The rate
    # limit goes back to its default, one route is added.
    assert changes == [
        call("ip_route_add", prefix="10.99.0.0/16", gateway="10.20.0.2"),
        call("icmp_ratelimit_set", rate=1000, burst=50)], changes
    assert d.call("icmp_ratelimit_get") == {"rate": 1000, "burst": 50}


def test_reload_plans_each_module_precisely(daemons, tmp_path):
    a = write_config(tmp_path / "a.json", CONFIG_A)
    b = write_config(tmp_path / "b.json", CONFIG_B)
    d = daemons(PORTS, config=a).start()
    changes = reload(d, b, dry_run=True)["changes"]
    by = {}
    for c in changes:
        by.setdefault(c["method"], []).append(c["params"])
    # A changed route is replaced in place, never withdrawn first.
    assert {"prefix": "0.0.0.0/0", "gateway": "10.10.0.254",
            "replace": True} in by["ip_route_add"]
    assert {"prefix": "10.66.0.0/16"} in by["ip_route_del"]
    assert {"prefix": "0.0.0.0/0"} not in by["ip_route_del"]
    # The moved subnet: old address out, new in.
    assert by["ip_addr_del"] == [{"address": "10.40.0.1/24",
                                  "port": "port2"}]
    assert by["ip_addr_add"] == [{"address": "10.50.0.1/24",
                                  "port": "port2"}]
    # A neighbour's new MAC is one add (add replaces).
    assert {"address": "10.10.0.9", "port": "lan",
            "mac": "02:00:00:00:00:99"} in by["ip_neigh_add"]
    assert "ip_neigh_del" in by
    # Only the tables that differ: mangle is not in the restore.
    tables = "".join(p["text"] for p in by["iptables_restore"])
    assert "*mangle" not in tables
    assert "*filter" in tables and "*nat" in tables
    # Sets: good is new, before the rules; bad's maxelem changes, so it is
    # made anew once the rules no longer use it; old goes then too.
    sets = [p["command"] for p in by["ipset_restore"]]
    assert sets == [
        "create good hash:net maxelem 65536\nadd good 10.9.0.0/16\n",
        "destroy bad\ncreate bad hash:net maxelem 100\n"
        "add bad 10.66.0.0/16\ndestroy old\n"]
    methods = [c["method"] for c in changes]
    assert methods.index("iptables_restore") == 9
    assert methods[1 + methods.index("iptables_restore"):] == [
        "ipvs_config_set", "ipvsadm_restore", "ipvsadm_restore",
        "ipset_restore", "ip_neigh_del", "ip_route_del", "ip_addr_del"]
    ipvs = "".join(p["command"] for p in by["ipvsadm_restore"])
    assert "-d -t 10.10.0.100:80 -r 10.10.0.12:80\n" in ipvs
    assert "-D -u 10.10.0.100:53\n" in ipvs
    assert "-D -t 10.10.0.101:443\n-A -t 10.10.0.101:443 -s wlc" in ipvs
    # A dry run changed nothing.
    assert reload(d, a, dry_run=True)["changes"] == []


def test_reload_keeps_counters_and_connections(daemons, tmp_path):
    """What stays the same keeps running: rule counters of unchanged
    tables, IPVS servers' slots, conntrack entries."""
    a = write_config(tmp_path / "a.json", CONFIG_A)
    d = daemons(PORTS, config=a).start()
    d.ctl("iptables", "-t", "mangle", "-Z")
    # Counters are only moved by traffic; set some with -c restore.
    d.call("iptables_restore", {"text": RULES_A.replace(
        "-A FORWARD -p tcp -m tcp --dport 25",
        "[5:500] -A FORWARD -p tcp -m tcp --dport 25").split("*nat")[0],
        "counters": True})
    before = saved_rules(d, "mangle")
    assert any(line.startswith("[5:500] -A FORWARD") for line in before)
    b = write_config(tmp_path / "b.json", CONFIG_B)
    reload(d, b)
    assert saved_rules(d, "mangle") == before


def test_failed_reload_changes_nothing(daemons, tmp_path):
    a = write_config(tmp_path / "a.json", CONFIG_A)
    d = daemons(PORTS, config=a).start()
    before = d.call("save_config")
    # Everything up to the ruleset applies, then a rule is refused: the
    # routes, addresses and sets already changed are put back.
    bad = [c if c["method"] != "iptables_restore" else
           call("iptables_restore", text=RULES_B.replace(
               "--dport 53", "--dport 99999"))
           for c in CONFIG_B]
    with pytest.raises(RpcError) as e:
        reload(d, write_config(tmp_path / "bad.json", bad))
    assert "iptables_restore" in str(e.value)
    assert "reload undone: nothing changed" in str(e.value)
    assert d.call("save_config") == before


@pytest.mark.parametrize("edit,message", [
    (lambda c: c + [call("host_iface_add", port="port2", ifname="pgtx0")],
     "host_iface_add for port port2: host interfaces are made only at "
     "start"),
    (lambda c: [call("port_set", port="port0", name="inside")] + c[1:],
     "a port is renamed only by a restart"),
    (lambda c: c + [call("iptables", command="-A INPUT -j DROP")],
     "iptables is not a call save_config writes"),
    (lambda c: c + [call("iptables_restore", text="*filter\nCOMMIT\n",
                         noflush=True)],
     "iptables_restore with noflush edits tables"),
    (lambda c: c + [call("ipset_restore", command="add nosuch 10.0.0.1")],
     "add to set nosuch before its create line"),
    (lambda c: c + [call("ipvsadm_restore", command="-A -t 10.0.0.1 -s rr")],
     "ipvsadm_restore line 1"),
])
def test_reload_refuses_what_it_cannot_do(daemons, tmp_path, edit, message):
    a = write_config(tmp_path / "a.json", CONFIG_A)
    d = daemons(PORTS, config=a).start()
    before = d.call("save_config")
    path = write_config(tmp_path / "x.json", edit(CONFIG_A))
    with pytest.raises(RpcError) as e:
        reload(d, path)
    assert message in str(e.value)
    assert d.call("save_config") == before


def test_pktgatectl_reload(daemons, tmp_path):
    a = write_config(tmp_path / "a.json", CONFIG_A)
    d = daemons(PORTS, config=a).start()
    out = d.ctl("reload").stdout
    assert out == "%s: no changes\n" % a
    edited = CONFIG_A + [call("ip_route_add", prefix="10.99.0.0/16",
                              type="blackhole")]
    a.write_text(json.dumps({"version": 1, "config": edited}))
    out = d.ctl("reload", "--dry-run").stdout
    assert out == ("%s: 1 change (dry run: nothing done)\n"
                   "  ip_route_add {\"prefix\": \"10.99.0.0/16\", "
                   "\"type\": \"blackhole\"}\n" % a)
    assert "10.99.0.0/16" not in json.dumps(d.call("ip_route_list"))
    out = d.ctl("reload").stdout
    assert out.startswith("%s: 1 change\n" % a)
    assert "10.99.0.0/16" in json.dumps(d.call("ip_route_list"))
    r = d.ctl("reload", str(tmp_path / "none.json"), check=False)
    assert r.returncode == 1
    assert "none.json: No such file or directory" in r.stderr
    # A file is read by pktgatectl and sent: the daemon opens none for
    # its clients.
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"version": 1, "config": CONFIG_A[:3]}))
    out = d.ctl("reload", "-n", str(b)).stdout
    assert out.startswith("%s: " % str(b)[:63])
    assert "ip_addr_del" in out
    r = d.ctl("rpc", "config_reload", '{"path": "/etc/shadow"}', check=False)
    assert r.returncode == 1 and "unknown parameter 'path'" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1,\n "config": [\n  {"method": 3}]}')
    r = d.ctl("reload", str(bad), check=False)
    assert "bad.json:3: each call must be" in r.stderr
    assert json.loads(d.ctl("-j", "reload").stdout)["changes"] == []


def test_reload_without_config(daemons, tmp_path):
    d = daemons(PORTS).start()
    with pytest.raises(RpcError) as e:
        reload(d)
    assert "started without --config: give the document to reload" in \
        str(e.value)
    b = write_config(tmp_path / "b.json", [
        call("ip_addr_add", address="10.10.0.1/24", port="port0"),
        call("ip_route_add", prefix="10.99.0.0/16", type="blackhole")])
    assert len(reload(d, b)["changes"]) == 2
    assert d.call("save_config") == fresh_state(daemons, b)


def test_ip_route_replace(daemons):
    d = daemons(PORTS).start()
    d.ctl("ip", "addr", "add", "10.10.0.1/24", "dev", "port0")
    d.ctl("ip", "addr", "add", "10.20.0.1/24", "dev", "port1")
    # replace adds a route that is not there, then changes it in place.
    d.ctl("ip", "route", "replace", "10.99.0.0/16", "via", "10.10.0.7")
    d.ctl("ip", "route", "replace", "10.99.0.0/16", "via", "10.20.0.7")
    routes = [r for r in d.call("ip_route_list")
              if r["prefix"] == "10.99.0.0/16"]
    assert len(routes) == 1 and routes[0]["gateway"] == "10.20.0.7"
    assert routes[0]["port"] == "port1"
    got = d.call("ip_route_get", {"address": "10.99.1.1"})
    assert got["gateway"] == "10.20.0.7", got
    d.ctl("ip", "route", "replace", "blackhole", "10.99.0.0/16")
    assert d.call("ip_route_get", {"address": "10.99.1.1"})["type"] == \
        "blackhole"
    r = d.ctl("ip", "route", "add", "10.99.0.0/16", "via", "10.10.0.7",
              check=False)
    assert "a route to 10.99.0.0/16 exists" in r.stderr
    # An address's route is the address's: replace is refused.
    r = d.ctl("ip", "route", "replace", "10.10.0.0/24", "via", "10.20.0.7",
              check=False)
    assert r.returncode == 1
    assert "the route to 10.10.0.0/24 belongs to an address" in r.stderr
