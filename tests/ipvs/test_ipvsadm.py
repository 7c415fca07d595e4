# SPDX-License-Identifier: BSD-3-Clause
"""ipvsadm's language through pktgatectl: the layouts operators read, -S
output that -R restores to the same state, all-or-nothing restores,
precise errors, and the services surviving a restart (save/replay)."""
import json
import subprocess

import pytest

from conftest import PKTGATECTL, Daemon, write_config


@pytest.fixture
def d(daemons):
    return daemons(["net_ring0", "net_ring1"]).start()


def ipvsadm(d, *args, check=True):
    return d.ctl("ipvsadm", *args, check=check)


HEADER = ("IP Virtual Server version 1.2.1 (size=%d)\n"
          "Prot LocalAddress:Port Scheduler Flags\n"
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")


def size(d):
    out = ipvsadm(d, "-L", "-n").stdout
    return int(out.split("size=")[1].split(")")[0])


def test_list_layout(d):
    ipvsadm(d, "-A", "-t", "10.0.0.100:80", "-s", "rr")
    ipvsadm(d, "-a", "-t", "10.0.0.100:80", "-r", "192.168.100.3:8080",
            "-m", "-w", "2")
    ipvsadm(d, "-a", "-t", "10.0.0.100:80", "-r", "192.168.100.2:80", "-m")
    ipvsadm(d, "-A", "-u", "10.0.0.53:53", "-s", "sh", "-b",
            "sh-fallback,sh-port", "-p", "60", "-M", "255.255.255.0")
    ipvsadm(d, "-a", "-u", "10.0.0.53:53", "-r", "192.168.100.9", "-g")
    ipvsadm(d, "-A", "-f", "7", "-s", "mh")
    ipvsadm(d, "-a", "-f", "7", "-r", "192.168.100.4:0", "-i", "-w", "0")
    out = ipvsadm(d, "-Ln").stdout
    # Sorted as ipvsadm sorts: no fwmark first, TCP before UDP, then
    # addresses; real servers by address.
    assert out == HEADER % size(d) + (
        "TCP  10.0.0.100:80 rr\n"
        "  -> 192.168.100.2:80             Masq    1      0          0         \n"
        "  -> 192.168.100.3:8080           Masq    2      0          0         \n"
        "UDP  10.0.0.53:53 sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0\n"
        "  -> 192.168.100.9:53             Route   1      0          0         \n"
        "FWM  7 mh\n"
        "  -> 192.168.100.4:0              Tunnel  0      0          0         \n")
    stats = ipvsadm(d, "-L", "-n", "--stats").stdout.splitlines()
    assert stats[1].split() == ["Prot", "LocalAddress:Port", "Conns",
                                "InPkts", "OutPkts", "InBytes", "OutBytes"]
    assert stats[3] == "%-33s" % "TCP  10.0.0.100:80" + "%9d" % 0 * 5
    rate = ipvsadm(d, "-L", "-n", "--rate").stdout.splitlines()
    assert rate[1].split()[2:] == ["CPS", "InPPS", "OutPPS", "InBPS",
                                   "OutBPS"]
    assert ipvsadm(d, "-L", "--timeout").stdout == \
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    ipvsadm(d, "--set", "600", "0", "120")
    assert ipvsadm(d, "-L", "--timeout").stdout == \
        "Timeout (tcp tcpfin udp): 600 120 120\n"
    one = ipvsadm(d, "-L", "-n", "-t", "10.0.0.100:80").stdout
    assert one.startswith("Prot LocalAddress:Port Scheduler Flags\n")
    assert "UDP" not in one
    conns = ipvsadm(d, "-L", "-n", "-c").stdout
    assert conns == ("IPVS connection entries\n"
                     "pro expire state       source             virtual"
                     "            destination\n")



def test_long_option_group_with_more_words(d):
    # Found by fuzz_config: a group of 31 letters and three more words
    # overflowed the array the group is split into (the sanitizer pass
    # sees the write; here the listing must come out whole).
    ipvsadm(d, "-A", "-t", "10.0.0.1:80", "-s", "rr")
    out = ipvsadm(d, "-L" + "n" * 30, "-n", "--stats", "--exact").stdout
    assert "TCP  10.0.0.1:80" in out and "Conns" in out

SAVED = """-A -t 10.0.0.100:80 -s wlc -p 300
-a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1
-a -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 3 -x 100 -y 50
-A -t 10.0.0.101:443 -s mh -b mh-fallback
--add-laddr -z 10.9.0.1 -t 10.0.0.101:443
--add-laddr -z 10.9.0.2 -t 10.0.0.101:443
-a -t 10.0.0.101:443 -r 192.168.100.5:8443 --fullnat -w 1
-A -u 10.0.0.53:53 -s rr
-a -u 10.0.0.53:53 -r 192.168.100.9:53 -g -w 1
-A -f 5 -s fo
-a -f 5 -r 192.168.100.7:0 -i -w 9
"""


def restore(d, text, check=True):
    r = subprocess.run([PKTGATECTL, "-s", d.sock, "ipvsadm", "-R"],
                       input=text, capture_output=True, text=True,
                       timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_save_restore_roundtrip(d):
    restore(d, "# a comment\n\nipvsadm " + SAVED.replace("\n", "\nipvsadm ", 1))
    saved = ipvsadm(d, "-S", "-n").stdout
    assert saved == SAVED
    ipvsadm(d, "-C")
    assert ipvsadm(d, "-S").stdout == ""
    restore(d, saved)
    assert ipvsadm(d, "-S", "-n").stdout == SAVED
    # Edits: -E replaces the service's settings, -e the server's.
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "rr")
    ipvsadm(d, "-e", "-t", "10.0.0.100:80", "-r", "192.168.100.2:80",
            "-m", "-w", "0")
    ipvsadm(d, "-d", "-u", "10.0.0.53:53", "-r", "192.168.100.9")
    ipvsadm(d, "-D", "-f", "5")
    out = ipvsadm(d, "-S").stdout
    assert out.startswith("-A -t 10.0.0.100:80 -s rr\n"
                          "-a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 0\n")
    assert "-f 5" not in out and "192.168.100.9" not in out
    services = d.call("ipvs_get")["services"]
    assert [s["scheduler"] for s in services] == ["rr", "mh", "rr"]
    assert services[1]["local_addresses"] == ["10.9.0.1", "10.9.0.2"]


def test_restore_is_all_or_nothing(d):
    restore(d, "-A -t 10.0.0.1:80 -s rr\n")
    r = restore(d, "-A -t 10.0.0.2:80 -s rr\n"
                   "-a -t 10.0.0.2:80 -r 10.1.1.1 -m\n"
                   "-a -t 10.0.0.3:80 -r 10.1.1.2 -m\n", check=False)
    assert r.returncode == 1
    assert r.stderr.strip().endswith("line 3: No such service")
    assert ipvsadm(d, "-S").stdout == "-A -t 10.0.0.1:80 -s rr\n"


@pytest.mark.parametrize("args,message", [
    (("-A", "-t", "10.0.0.1:80", "-s", "nosuch"), "Scheduler not found: 'nosuch'"),
    (("-A", "-t", "10.0.0.300:80"), "illegal virtual server address[:port] specified: '10.0.0.300:80'"),
    (("-A", "-t", "10.0.0.1:99999"), "illegal virtual server address[:port] specified"),
    (("-A", "-t", "10.0.0.1"), "Zero port specified for non-persistent service"),
    (("-A", "-t", "10.0.0.1:80", "-M", "255.0.255.0", "-p"), "illegal virtual server persistent mask"),
    (("-A", "-t", "10.0.0.1:80", "-b", "sh-wobble"), "invalid scheduler flag 'sh-wobble'"),
    (("-A", "-t", "10.0.0.1:80", "-p", "0"), "illegal timeout for persistent service: '0'"),
    (("-a", "-t", "10.0.0.9:80", "-r", "10.1.1.1"), "No such service"),
    (("-a", "-t", "10.0.0.1:81", "-r", "10.1.1.1", "-w", "70000"), "illegal weight specified: '70000'"),
    (("-a", "-t", "10.0.0.1:81", "-r", "10.1.1.1", "--fullnat"), "full-NAT needs a local address first"),
    (("-a", "-t", "10.0.0.1:81", "-r", "10.1.1.1", "-m", "-g"), "one forwarding method"),
    (("-a", "-t", "10.0.0.1:81", "-r", "10.1.1.x"), "illegal real server address[:port] specified: '10.1.1.x'"),
    (("-d", "-t", "10.0.0.1:81", "-r", "10.1.1.7"), "No such destination"),
    (("-A", "-t", "10.0.0.1:81"), "Service already exists"),
    (("-A", "-t", "10.0.0.1:82", "--frobnicate"), "unknown option '--frobnicate'"),
    (("-A", "-A", "-t", "10.0.0.1:82"), "only one command per line"),
    (("-A", "-6", "-t", "10.0.0.1:82"), "'-6' is not supported"),
    (("-Z",), "'-Z' is not supported"),
    (("-a", "-t", "10.0.0.1:81"), "a real server is needed"),
    (("--set", "1", "2"), "--set needs three timeouts"),
    (("-s", "rr"), "no command given"),
    (("-E", "-t", "10.0.0.1:81", "--check", "https"), "pktgate links no TLS library"),
    (("-E", "-t", "10.0.0.1:81", "--check", "icmp"), "--check 'icmp': tcp, http, none or inherit"),
    (("-E", "-t", "10.0.0.1:81", "--check-fall", "2"), "--check-* options need a check"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-path", "/"), "are for --check http"),
    (("-E", "-t", "10.0.0.1:81", "--check", "http", "--check-path", "x"), "illegal check path 'x'"),
    (("-E", "-t", "10.0.0.1:81", "--check", "http", "--check-status", "99"), "illegal HTTP status '99'"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-interval", "0.05"), "illegal --check-interval '0.05'"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-interval", "1.2345"), "illegal --check-interval"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-timeout", "3"), "--check-timeout (3000 ms) must not exceed --check-interval (2000 ms)"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-rise", "0"), "illegal --check-rise '0'"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-action", "drop"), "quiesce (weight 0) or remove"),
    (("-E", "-t", "10.0.0.1:81", "--check", "tcp", "--check-port"), "'--check-port' needs an argument"),
    (("-E", "-t", "10.0.0.1:81", "--check", "inherit"), "--check inherit is for real servers"),
    (("-D", "-t", "10.0.0.1:81", "--check", "tcp"), "--check options go with -A, -E, -a or -e"),
    (("-A", "-t", "10.0.0.9:0", "-p"), None),
])
def test_errors(d, args, message):
    ipvsadm(d, "-A", "-t", "10.0.0.1:81")
    if message is None:
        # A server without a port cannot be checked without one.
        ipvsadm(d, *args)
        ipvsadm(d, "-a", "-t", "10.0.0.9:0", "-r", "10.1.1.1")
        args = ("-E", "-t", "10.0.0.9:0", "-p", "--check", "tcp")
        message = "real server 10.1.1.1 has no port to check: give --check-port"
    before = ipvsadm(d, "-S").stdout
    r = ipvsadm(d, *args, check=False)
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert ipvsadm(d, "-S").stdout == before


def test_config_set_and_saved(tmp_path, daemons):
    d = daemons(["net_ring0", "net_ring1"]).start()
    with pytest.raises(Exception, match="not a prime"):
        d.call("ipvs_config_set", {"mh_table_size": 4096})
    d.call("ipvs_config_set", {"mh_table_size": 251, "udp_timeout": 60,
                               "reject_tcp_reset": True})
    restore(d, SAVED)
    calls = d.call("save_config")["config"]
    cfg = write_config(tmp_path / "saved.json", calls)
    d.stop()
    d2 = Daemon(tmp_path / "again", ["net_ring0", "net_ring1"], config=cfg)
    (tmp_path / "again").mkdir()
    d2.start()
    try:
        assert ipvsadm(d2, "-S").stdout == SAVED
        assert d2.call("ipvs_config_get") == {
            "tcp_timeout": 900, "tcpfin_timeout": 120, "udp_timeout": 60,
            "mh_table_size": 251, "reject_tcp_reset": True}
    finally:
        d2.stop()
    assert json.dumps(calls).count("ipvsadm_restore") == 1


CHECKED = """-A -t 10.0.0.100:80 -s rr --check http --check-path /healthz --check-status 204 --check-interval 0.5 --check-timeout 0.25 --check-rise 1 --check-fall 2 --check-action quiesce
-a -t 10.0.0.100:80 -r 192.168.100.2:80 -m -w 1
-a -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 2 --check tcp --check-port 8080 --check-interval 0.5 --check-timeout 0.25 --check-rise 1 --check-fall 2 --check-action quiesce
-a -t 10.0.0.100:80 -r 192.168.100.4:80 -m -w 3 --check none
"""


def test_check_options_saved_and_edited(d):
    ipvsadm(d, "-A", "-t", "10.0.0.100:80", "-s", "rr", "--check", "http",
            "--check-path", "/healthz", "--check-status", "204",
            "--check-interval", "0.5", "--check-timeout", "0.25",
            "--check-rise", "1", "--check-fall", "2")
    ipvsadm(d, "-a", "-t", "10.0.0.100:80", "-r", "192.168.100.2", "-m")
    # A server's own check starts from its service's.
    ipvsadm(d, "-a", "-t", "10.0.0.100:80", "-r", "192.168.100.3", "-m",
            "-w", "2", "--check", "tcp", "--check-port", "8080")
    ipvsadm(d, "-a", "-t", "10.0.0.100:80", "-r", "192.168.100.4", "-m",
            "-w", "3", "--check", "none")
    assert ipvsadm(d, "-S", "-n").stdout == CHECKED
    ipvsadm(d, "-C")
    restore(d, CHECKED)
    assert ipvsadm(d, "-S", "-n").stdout == CHECKED
    # -E without --check keeps the check (tools that only know ipvsadm
    # must not drop it); --check-* alone edits it; inherit drops a
    # server's own.
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "wrr")
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "wrr", "--check-fall",
            "5", "--check-action", "remove")
    ipvsadm(d, "-e", "-t", "10.0.0.100:80", "-r", "192.168.100.3", "-m",
            "-w", "2", "--check", "inherit")
    out = ipvsadm(d, "-S", "-n").stdout.splitlines()
    assert out[0] == ("-A -t 10.0.0.100:80 -s wrr --check http --check-path "
                      "/healthz --check-status 204 --check-interval 0.5 "
                      "--check-timeout 0.25 --check-rise 1 --check-fall 5 "
                      "--check-action remove")
    assert out[2] == "-a -t 10.0.0.100:80 -r 192.168.100.3:80 -m -w 2"
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "wrr", "--check", "none")
    assert "--check" not in ipvsadm(d, "-S", "-n").stdout.splitlines()[0]
    svc = d.call("ipvs_check_get")["services"][0]
    assert svc["check"] is None
    assert [r["health"] for r in svc["real_servers"]] == ["unchecked"] * 3


def test_check_verdict_and_listings(d):
    """Servers pktgate has no route to fail their checks: the verdict,
    its reason and its effect are visible everywhere."""
    restore(d, CHECKED)
    d.wait_for(lambda: d.call("ipvs_check_get")["services"][0]
               ["servers_up"] == 1, timeout=10, what="checks failing")
    svc = d.call("ipvs_check_get")["services"][0]
    assert svc["state"] == "degraded"
    one, two, three = svc["real_servers"]
    assert one["health"] == "down" and two["health"] == "down"
    assert three["health"] == "unchecked"
    last = one["history"][-1]
    assert not last["ok"] and last["result"] == \
        "192.168.100.2: no route through a port"
    assert [h["changed"] for h in one["history"]][:2] == [False, True]
    assert one["checks_failed"] >= 2 and one["checks_ok"] == 0
    # Quiesced: weight 0 where the data path's weights are listed, the
    # configured weight where the configuration is.
    out = ipvsadm(d, "-L", "-n").stdout
    assert "  -> 192.168.100.2:80             Masq    0 " in out
    assert "  -> 192.168.100.3:80             Masq    0 " in out
    assert "  -> 192.168.100.4:80             Masq    3 " in out
    assert "-r 192.168.100.3:80 -m -w 2 " in ipvsadm(d, "-S").stdout
    checks = ipvsadm(d, "-L", "-n", "--checks").stdout.splitlines()
    assert checks[1:3] == [
        "Prot LocalAddress:Port Scheduler Flags (servers up)",
        "  -> RemoteAddress:Port           Check                    "
        "Health    Since   Last result"]
    assert checks[3] == "TCP  10.0.0.100:80 rr (1 of 3 up)"
    assert checks[4].split()[:6] == ["->", "192.168.100.2:80", "http",
                                     ":80/healthz", "204", "down"]
    assert checks[4].endswith("192.168.100.2: no route through a port")
    assert checks[5].split()[2:5] == ["tcp", ":8080", "down"]
    assert checks[6].split()[2:4] == ["-", "unchecked"]
    health = [r["health"] for r in d.call("ipvs_get")["services"][0]
              ["real_servers"]]
    assert health == ["down", "down", "unchecked"]
    # Removal takes them out of the listing; a server without a check
    # left is up at once.
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "rr", "--check-action",
            "remove")
    out = ipvsadm(d, "-L", "-n").stdout
    assert "192.168.100.2" not in out and "192.168.100.4" in out
    ipvsadm(d, "-e", "-t", "10.0.0.100:80", "-r", "192.168.100.4", "-m",
            "-w", "3", "--check", "inherit")
    d.wait_for(lambda: d.call("ipvs_check_get")["services"][0]
               ["state"] == "down", timeout=10, what="all down")
    ipvsadm(d, "-E", "-t", "10.0.0.100:80", "-s", "rr", "--check", "none")
    ipvsadm(d, "-e", "-t", "10.0.0.100:80", "-r", "192.168.100.3", "-m",
            "-w", "2", "--check", "none")
    svc = d.call("ipvs_check_get")["services"][0]
    assert svc["state"] == "up" and svc["servers_up"] == 3
    assert ipvsadm(d, "-L", "-n").stdout.count("Masq") == 3
    assert "every real server is down" in d.log()


def test_checks_survive_restart(tmp_path, daemons):
    d = daemons(["net_ring0", "net_ring1"]).start()
    restore(d, CHECKED)
    calls = d.call("save_config")["config"]
    cfg = write_config(tmp_path / "saved.json", calls)
    d.stop()
    (tmp_path / "again").mkdir()
    d2 = Daemon(tmp_path / "again", ["net_ring0", "net_ring1"], config=cfg)
    d2.start()
    try:
        assert ipvsadm(d2, "-S", "-n").stdout == CHECKED
    finally:
        d2.stop()


def test_ten_thousand_services_and_the_limit(d):
    # 16,383 services with 2 real servers each in one restore (slots are
    # given in one pass), then one more service is refused by name and
    # count, and nothing of the running set changes.
    lines = []
    for i in range(16383):
        vip = "10.60.%d.%d:80" % (i // 250, 1 + i % 250)
        lines += ["-A -t %s -s rr" % vip] + [
            "-a -t %s -r 10.61.%d.%d:8080 -m" % (vip, i % 200, k + 1)
            for k in range(2)]
    d.call("ipvsadm_restore", {"command": "\n".join(lines) + "\n"})
    assert len(d.call("ipvs_get")["services"]) == 16383
    r = ipvsadm(d, "-A", "-t", "10.59.0.1:80", "-s", "rr", check=False)
    assert r.returncode != 0
    assert "at most 16383 services" in r.stderr
    assert len(d.call("ipvs_get")["services"]) == 16383
    # A real server change among them still goes through.
    ipvsadm(d, "-e", "-t", "10.60.0.1:80", "-r", "10.61.0.1:8080", "-m",
            "-w", "5")
    assert "-a -t 10.60.0.1:80 -r 10.61.0.1:8080 -m -w 5" in \
        ipvsadm(d, "-S", "-n").stdout
