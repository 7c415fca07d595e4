# SPDX-License-Identifier: BSD-3-Clause
"""pktgate --offline and pktgatectl explain: rulesets tested like code.

Golden traces for a Kubernetes-shaped (kube-proxy iptables mode) and an
Istio-shaped (inbound redirect) ruleset: the offline run's per-packet
trace must equal tests/golden/NAME/trace.jsonl byte for byte (set
PGT_UPDATE_GOLDEN=1 to rewrite them after a deliberate change, and read the
diff). Offline runs that pass and fail on purpose; inputs across ports in
time order; pcapng and raw-IP input; no root; bad input refused with exit
status 2. explain against files and against a running daemon, and in
agreement with the daemon itself on 1,000 random packets.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile

import pytest
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap,
                       wrpcap)

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, PCAP_SERVER as SERVER,
                      PCAP_SERVER_MAC as SERVER_MAC, PKTGATE, PKTGATECTL,
                      pcap_daemon, pcap_router_config, write_config)

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
MAC1 = "02:70:63:61:70:01"


def offline(*args, check=None):
    r = subprocess.run([PKTGATE, "--offline", *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    if check is not None:
        assert r.returncode == check, r.stderr
    return r


def stamp(pkts, start=1000):
    """Fixed time stamps: the files, and so the traces, never change."""
    for i, p in enumerate(pkts):
        p.time = start + i / 1000
    return pkts


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def c2s(l4, dst=SERVER, **ip):
    return Ether(src=CLIENT_MAC, dst=MAC0) / IP(src=CLIENT, dst=dst, **ip) / l4


# Golden traces

KUBE_NODE, KUBE_POD = "10.1.0.1", "10.244.1.5"


def kube_packets():
    return stamp([
        c2s(TCP(sport=40000, dport=80, flags="S"), dst="10.96.0.10"),
        # (enters by port1, as every packet from the server MAC)
        Ether(src=SERVER_MAC, dst=MAC1) /
        IP(src=KUBE_POD, dst="10.244.0.1") /
        TCP(sport=8080, dport=40000, flags="SA"),
        c2s(TCP(sport=40000, dport=80, flags="A", seq=1, ack=1),
            dst="10.96.0.10"),
        c2s(TCP(sport=40001, dport=443, flags="S"), dst="10.96.0.11"),
        c2s(TCP(sport=40002, dport=30080, flags="S"), dst=KUBE_NODE),
        c2s(UDP(sport=5353, dport=53), dst=KUBE_POD),
    ])


def istio_packets():
    return stamp([
        c2s(TCP(sport=41000, dport=80, flags="S")),
        c2s(TCP(sport=41001, dport=22, flags="S"), dst="10.1.0.1"),
        c2s(TCP(sport=41002, dport=15021, flags="S")),
        c2s(UDP(sport=41003, dport=53) / Raw(b"q" * 12)),
        c2s(TCP(sport=41004, dport=15090, flags="S"), dst="10.1.0.1"),
    ])


@pytest.mark.parametrize("name,packets", [("kube", kube_packets),
                                          ("istio", istio_packets)])
def test_golden_trace(tmp_path, name, packets):
    d = os.path.join(GOLDEN, name)
    pkts = packets()
    wrpcap(str(tmp_path / "in0.pcap"),
           [p for p in pkts if p.src != SERVER_MAC])
    wrpcap(str(tmp_path / "in1.pcap"),
           [p for p in pkts if p.src == SERVER_MAC])
    r = offline("--config", os.path.join(d, "config.json"),
                "--ruleset", os.path.join(d, "rules.txt"),
                "--in", "0=%s" % (tmp_path / "in0.pcap"),
                "--in", "1=%s" % (tmp_path / "in1.pcap"),
                "--out", tmp_path / "out",
                "--trace", tmp_path / "trace.jsonl",
                "--expect", os.path.join(d, "expect.txt"), check=0)
    got = (tmp_path / "trace.jsonl").read_text()
    golden = os.path.join(d, "trace.jsonl")
    if os.environ.get("PGT_UPDATE_GOLDEN"):
        with open(golden, "w") as f:
            f.write(got)
    with open(golden) as f:
        assert got == f.read(), "trace differs from %s:\n%s" % (golden, got)
    assert "expectations: %d checked, 0 not met" % len(packets()) in r.stderr


def test_kube_trace_content(tmp_path):
    """What the golden kube trace says, in words a reader checks."""
    recs = records(os.path.join(GOLDEN, "kube", "trace.jsonl"))
    syn, synack, ack, nosvc, nodeport, direct = recs
    out = syn["out"][0]
    assert (out["port"], out["dst"], out["dport"], out["src"]) == \
        ("pods", KUBE_POD, 8080, "10.244.0.1")
    texts = [e.get("text", "") for e in syn["events"]]
    assert any("KUBE-SEP-WEB1" in t and "DNAT" in t for t in texts)
    assert any(e["type"] == "rule" and e["verdict"] == "MASQUERADE"
               for e in syn["events"])
    assert synack["out"][0]["src"] == "10.96.0.10"
    assert synack["out"][0]["dst"] == CLIENT
    assert any(e.get("ct") == "established" for e in ack["events"])
    assert nosvc["verdict"] == "drop" and nosvc["reason"] == "ruleset_reject"
    assert nosvc["out"][0]["answer"] and nosvc["out"][0]["icmp_type"] == 3
    assert nodeport["out"][0]["dst"] == KUBE_POD
    assert direct["verdict"] == "drop"
    assert direct["events"][-2]["type"] == "policy"


# Offline runs that pass and fail

ROUTER_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.2.0.9/32 -p tcp --dport 80 -j DNAT --to-destination 10.2.0.2:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -p tcp --dport 8080 -j ACCEPT
-A FORWARD -p udp --dport 53 -j REJECT
COMMIT
"""


@pytest.fixture
def router(tmp_path):
    cfg = write_config(tmp_path / "cfg.json", pcap_router_config())
    rules = tmp_path / "rules.txt"
    rules.write_text(ROUTER_RULES)
    return cfg, rules


def test_expectations_pass_and_fail(tmp_path, router):
    cfg, rules = router
    wrpcap(str(tmp_path / "in.pcap"), stamp([
        c2s(TCP(sport=1000, dport=80, flags="S"), dst="10.2.0.9"),
        c2s(TCP(sport=1001, dport=22, flags="S")),
        c2s(UDP(sport=1002, dport=53)),
        c2s(ICMP(), dst="10.1.0.1"),
    ]))
    good = tmp_path / "good.txt"
    good.write_text("# what the ruleset must do\n"
                    "1 expect: out port1 dnat 10.2.0.2:8080 "
                    "rule nat:PREROUTING:1 ct new\n"
                    "2 drop ruleset_drop policy filter:FORWARD\n"
                    "3 drop ruleset_reject rule filter:FORWARD:3\n"
                    "4 local\n")
    r = offline("--config", cfg, "--ruleset", rules, "--in",
                tmp_path / "in.pcap", "--expect", good, check=0)
    assert "4 packets: 1 out, 2 dropped, 1 local" in r.stderr
    assert "expectations: 4 checked, 0 not met" in r.stderr

    bad = tmp_path / "bad.txt"
    bad.write_text("1 out port1 dnat 10.2.0.3:8080\n2 out\n* ct new\n"
                   "9 drop\n")
    r = offline("--config", cfg, "--ruleset", rules, "--in",
                tmp_path / "in.pcap", "--expect", bad, check=1)
    assert "packet 1: expected out port1 dnat 10.2.0.3:8080 (%s:1), got out"\
        % bad in r.stderr
    assert "packet 2: expected out (%s:2), got drop ruleset_drop" % bad \
        in r.stderr
    assert "no packet 9 (expected drop)" in r.stderr
    # Lines 1 and 2 fail; "* ct new" holds for all four; packet 9 never
    # came.
    assert "expectations: 6 checked, 3 not met" in r.stderr


def test_outputs_and_determinism(tmp_path, router):
    cfg, rules = router
    wrpcap(str(tmp_path / "in.pcap"), stamp([
        c2s(TCP(sport=1000, dport=80, flags="S"), dst="10.2.0.9"),
        c2s(UDP(sport=1002, dport=53))]))
    runs = []
    for n in (1, 2):
        out = tmp_path / ("out%d" % n)
        offline("--config", cfg, "--ruleset", rules, "--in",
                tmp_path / "in.pcap", "--out", out, "--trace",
                tmp_path / ("t%d.jsonl" % n), check=0)
        runs.append([(out / p).read_bytes() for p in ("port0.pcap",
                                                      "port1.pcap")] +
                    [(tmp_path / ("t%d.jsonl" % n)).read_bytes()])
    assert runs[0] == runs[1]
    p1 = [p for p in rdpcap(str(tmp_path / "out1" / "port1.pcap"))
          if TCP in p]
    assert len(p1) == 1 and p1[0][IP].dst == SERVER and \
        p1[0][TCP].dport == 8080 and p1[0].time == 1000
    p0 = [p for p in rdpcap(str(tmp_path / "out1" / "port0.pcap"))
          if ICMP in p]
    assert len(p0) == 1 and p0[0][ICMP].type == 3 and p0[0][IP].dst == CLIENT


def test_inputs_merged_by_time(tmp_path, router):
    """A conversation split over two captures (client side on port0, server
    side on port1) is replayed in the order it happened: the server's
    answer is the connection's reply, so ESTABLISHED lets it through."""
    cfg, rules = router
    wrpcap(str(tmp_path / "c.pcap"), stamp(
        [c2s(TCP(sport=1000, dport=8080, flags="S"))], 1000))
    wrpcap(str(tmp_path / "s.pcap"), stamp(
        [Ether(src=SERVER_MAC, dst=MAC1) / IP(src=SERVER, dst=CLIENT) /
         TCP(sport=8080, dport=1000, flags="SA")], 1001))
    expect = tmp_path / "x.txt"
    expect.write_text("1 out port1 ct new\n2 out port0 ct established\n")
    # Server file first on the command line: time decides, not order.
    r = offline("--config", cfg, "--ruleset", rules, "--in",
                "port1=%s" % (tmp_path / "s.pcap"), "--in",
                tmp_path / "c.pcap", "--expect", expect,
                "--trace", tmp_path / "t.jsonl", check=0)
    assert [rec["in"] for rec in records(tmp_path / "t.jsonl")] == \
        ["port0", "port1"], r.stderr


def pcapng_raw(path, packets):
    """pcapng as `pktgatectl capture` writes it: raw IPv4 (link type 101),
    nanosecond stamps (if_tsresol 9)."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 101, 0, 65535) +
                 struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0))
    for p in packets:
        raw = bytes(p)
        ts = int(p.time * 1e9)
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff,
                                    len(raw), len(raw)) + raw)
    with open(path, "wb") as f:
        f.write(out)


def test_pcapng_raw_ip_input(tmp_path, router):
    """A capture from `pktgatectl capture` (raw-IP pcapng) replays as is:
    each packet enters with an Ethernet header to the port's MAC."""
    cfg, rules = router
    pcapng_raw(tmp_path / "in.pcapng", stamp(
        [IP(src=CLIENT, dst="10.2.0.9") / TCP(sport=5, dport=80, flags="S"),
         IP(src=CLIENT, dst=SERVER) / UDP(sport=6, dport=53)]))
    expect = tmp_path / "x.txt"
    expect.write_text("1 out port1 dnat 10.2.0.2:8080\n2 drop ruleset_reject\n")
    r = offline("--config", cfg, "--ruleset", rules, "--in",
                tmp_path / "in.pcapng", "--expect", expect,
                "--trace", tmp_path / "t.jsonl", check=0)
    assert [rec["time"] for rec in records(tmp_path / "t.jsonl")] == \
        ["1000.000000000", "1000.001000000"], r.stderr


def test_no_root(tmp_path, router):
    """No hugepages, no PCI, no shared files: an unprivileged user runs
    it."""
    cfg, rules = router
    # pytest's directories are root's alone: the files go where nobody
    # can read them.
    d = tempfile.mkdtemp(prefix="pgt-offline-")
    try:
        os.chmod(d, 0o755)
        wrpcap(os.path.join(d, "in.pcap"), stamp(
            [c2s(TCP(sport=1000, dport=8080, flags="S"))]))
        with open(os.path.join(d, "x.txt"), "w") as f:
            f.write("1 out port1\n")
        shutil.copy(cfg, d)
        shutil.copy(rules, d)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", "--inh-caps=-all", PKTGATE,
                            "--offline", "--config", "cfg.json",
                            "--ruleset", "rules.txt", "--in", "in.pcap",
                            "--expect", "x.txt"], cwd=d,
                           capture_output=True, text=True, timeout=120,
                           env={"PATH": "/usr/bin:/bin",
                                "HOME": "/nonexistent"})
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("args,message", [
    (["--in", "missing.pcap"], "missing.pcap: No such file or directory"),
    (["--in", "bad.pcap"], "bad.pcap: not a pcap or pcapng file"),
    (["--in", "short.pcap"], "short.pcap: record at byte 24"),
    (["--in", "port7=in.pcap"], "--in port7=in.pcap: no such port"),
    (["--in", "in.pcap", "--expect", "x.txt"],
     "x.txt:1: 'sideways' is not a check"),
    (["--in", "in.pcap", "--ruleset", "bad-rules.txt"], "line 2"),
    ([], "needs at least one --in FILE"),
])
def test_bad_input_refused(tmp_path, args, message):
    wrpcap(str(tmp_path / "in.pcap"), [c2s(UDP())])
    data = (tmp_path / "in.pcap").read_bytes()
    (tmp_path / "short.pcap").write_bytes(data[:-3])
    (tmp_path / "bad.pcap").write_bytes(b"garbage" * 10)
    (tmp_path / "x.txt").write_text("1 sideways\n")
    (tmp_path / "bad-rules.txt").write_text("*filter\n-A NOPE -j ACCEPT\n"
                                            "COMMIT\n")
    r = subprocess.run([PKTGATE, "--offline", *args], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and message in r.stderr, r.stderr


# explain

def test_explain_files(tmp_path, router):
    cfg, rules = router
    r = subprocess.run([PKTGATECTL, "explain", "--config", str(cfg),
                        "--ruleset", str(rules), "tcp", CLIENT + ":1000",
                        ">", "10.2.0.9:80", "in", "port0", "syn"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "nat PREROUTING rule 1: DNAT" in r.stdout
    assert "--to-destination 10.2.0.2:8080" in r.stdout
    assert r.stdout.rstrip().endswith(
        "verdict: out; sent on port1: tcp 10.1.0.2:1000 > 10.2.0.2:8080 [S]"
        " len 40 ttl 63")
    r = subprocess.run([PKTGATECTL, "-j", "explain", "--config", str(cfg),
                        "--ruleset", str(rules), "udp", CLIENT + ":7",
                        "->", SERVER + ":53"],
                       capture_output=True, text=True, timeout=60)
    rec = json.loads(r.stdout)
    assert rec["verdict"] == "drop" and rec["reason"] == "ruleset_reject"
    r = subprocess.run([PKTGATECTL, "explain", "--config", str(cfg),
                        "sctp", "a", ">", "b"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "protocol 'sctp'" in r.stderr


def test_explain_running_daemon(tmp_path, daemons):
    """Against the daemon's own configuration, which it leaves alone."""
    cfg = write_config(tmp_path / "cfg.json", pcap_router_config() + [
        {"method": "port_set", "params": {"port": "port1", "name": "wan"}},
        {"method": "iptables_restore", "params": {"text": ROUTER_RULES}}])
    d = daemons(["net_null0", "net_null1"], config=cfg).start()
    before = d.call("iptables_rules_get", {"table": "nat"})
    r = d.ctl("explain", "tcp", CLIENT + ":9", ">", "10.2.0.9:80")
    assert "sent on wan: tcp 10.1.0.2:9 > 10.2.0.2:8080" in r.stdout
    # Same rules, same counters: the packet never touched the daemon.
    assert d.call("iptables_rules_get", {"table": "nat"}) == before


RANDOM_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.2.0.9/32 -p tcp --dport 80 -j DNAT --to-destination 10.2.0.2:8080
-A POSTROUTING -o port1 -p udp -j SNAT --to-source 10.2.0.1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -p tcp -m multiport --dports 80,443,8080 -j ACCEPT
-A FORWARD -p tcp --dport 22 -j REJECT --reject-with tcp-reset
-A FORWARD -p udp -j ACCEPT
-A FORWARD -p icmp --icmp-type echo-request -j ACCEPT
COMMIT
"""


def test_unresolved_next_hop_is_queued(tmp_path, router):
    """Offline nobody answers ARP: a packet for an unknown neighbour is
    reported as waiting for it, not as dropped when the run ends."""
    cfg, rules = router
    wrpcap(str(tmp_path / "in.pcap"), stamp(
        [c2s(TCP(sport=1000, dport=8080, flags="S"), dst="10.2.0.7")]))
    expect = tmp_path / "x.txt"
    expect.write_text("1 queued\n")
    offline("--config", cfg, "--ruleset", rules, "--in",
            tmp_path / "in.pcap", "--expect", expect, "--out",
            tmp_path / "out", check=0)
    arp = [p for p in rdpcap(str(tmp_path / "out" / "port1.pcap"))
           if ARP in p and p[ARP].pdst == "10.2.0.7"]
    assert len(arp) == 1


def test_explain_uses_learned_neighbours(tmp_path):
    """A neighbour the daemon learned by ARP is known to explain's
    sandbox too, so the packet is explained as sent, not as waiting."""
    learned = "10.1.0.5"
    arp = Ether(src="02:00:00:00:01:05", dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc="02:00:00:00:01:05", psrc=learned, pdst="10.1.0.1")
    d, _, _ = pcap_daemon(tmp_path, [arp], pcap_router_config())
    try:
        d.wait_for(lambda: any(n["address"] == learned and "mac" in n
                               for n in d.call("ip_neigh_list")[
                                   "neighbours"]), what="the learned MAC")
        r = d.ctl("explain", "udp", SERVER + ":5", ">", learned + ":53",
                  "in", "port1")
    finally:
        d.stop()
    assert r.stdout.rstrip().endswith(
        "verdict: out; sent on port0: udp 10.2.0.2:5 > 10.1.0.5:53 len 28 "
        "ttl 63"), r.stdout


def random_packets(n, seed=7):
    rnd = random.Random(seed)
    pkts = []
    for i in range(n):
        dst = rnd.choice([SERVER, SERVER, "10.2.0.3", "10.2.0.9",
                          "10.1.0.1", "10.9.9.9"])
        kind = rnd.choice(["tcp", "tcp", "udp", "icmp"])
        ip = IP(src=CLIENT, dst=dst, id=i + 1, ttl=rnd.choice([64, 64, 1]))
        if kind == "tcp":
            l4 = TCP(sport=rnd.randint(1024, 1100),
                     dport=rnd.choice([22, 80, 8080, 443]),
                     flags=rnd.choice(["S", "A", "SA", "R", "F", "PA"]))
        elif kind == "udp":
            l4 = UDP(sport=rnd.randint(1024, 1100),
                     dport=rnd.choice([53, 123, 8080]))
        else:
            l4 = ICMP(type=rnd.choice([8, 0, 3]))
        pkts.append(Ether(src=CLIENT_MAC, dst=MAC0) / ip / l4)
    return stamp(pkts)


def outputs_by_id(paths):
    """{IP id: (port, src, dst, sport, dport)} of the packets themselves,
    not what the router said about them (errors, echo replies)."""
    got = {}
    for port, path in paths:
        for p in rdpcap(path):
            if IP not in p or p[IP].src == "10.1.0.1" or p[IP].id == 0:
                continue
            l4 = p[IP].payload
            got[p[IP].id] = (port, p[IP].src, p[IP].dst,
                             getattr(l4, "sport", None),
                             getattr(l4, "dport", None))
    return got


def test_explain_agrees_with_daemon(tmp_path):
    """1,000 random packets: what explain says each becomes is what the
    daemon, on net_pcap with the same configuration, sends."""
    pkts = random_packets(1000)
    wrpcap(str(tmp_path / "in.pcap"), pkts)
    calls = pcap_router_config() + [
        {"method": "ip_neigh_add", "params": {"address": "10.2.0.3",
                                              "port": "port1",
                                              "mac": SERVER_MAC}},
        {"method": "iptables_restore", "params": {"text": RANDOM_RULES}}]
    cfg = write_config(tmp_path / "cfg.json", calls)
    r = subprocess.run([PKTGATECTL, "-j", "explain", "--config", str(cfg),
                        "-r", str(tmp_path / "in.pcap")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    explained = {}
    for line in r.stdout.splitlines():
        rec = json.loads(line)
        ip_id = pkts[rec["packet"] - 1][IP].id
        for o in rec["out"]:
            if not o["answer"] and o.get("proto") is not None:
                explained[ip_id] = (o["port"], o["src"], o["dst"],
                                    o.get("sport"), o.get("dport"))
    (tmp_path / "d").mkdir()
    d, out0, out1 = pcap_daemon(tmp_path / "d", tmp_path / "in.pcap", calls)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == 1000,
                   what="1000 packets in")
    finally:
        d.stop()
    actual = outputs_by_id([("port0", out0), ("port1", out1)])
    # Nothing may differ, and there must be something to compare.
    assert len(actual) > 200
    diff = {k: (explained.get(k), actual.get(k))
            for k in set(explained) | set(actual)
            if explained.get(k) != actual.get(k)}
    assert not diff, sorted(diff.items())[:10]
