# SPDX-License-Identifier: BSD-3-Clause
"""Differential test: random rulesets loaded into Linux's iptables in a
router namespace and into pktgate, the same random packets sent through
each from a client namespace; the same packets must reach the server.

PGT_DIFF_ROUNDS rulesets are tried (default 8 stateless, 4 stateful and
NAT); raise it for a soak."""
import os
import random
import subprocess

import pytest

from conftest import NsRouter, sh

TAG = "pd%d" % (os.getpid() % 100000)
LX = {"router": TAG + "lr", "client": TAG + "lc", "server": TAG + "ls"}
CLIENT_NET, SERVER_NET = "10.216.1", "10.216.2"
SERVER_HOSTS = [SERVER_NET + ".%d" % i for i in range(2, 6)]
ROUNDS = int(os.environ.get("PGT_DIFF_ROUNDS", "8"))
STATEFUL_ROUNDS = int(os.environ.get("PGT_DIFF_ROUNDS", "4"))
PACKETS = 120

# Collects the IP ids of packets from the client subnet until its stdin
# closes (the sender is done), plus a grace period for packets in flight.
SNIFFER = """
import select, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
print("ready", flush=True)
ids = set()
deadline = None
while deadline is None or time.monotonic() < deadline:
    r, _, _ = select.select([s] + ([sys.stdin] if deadline is None else []),
                            [], [], 0.1)
    if sys.stdin in r and not sys.stdin.readline():
        deadline = time.monotonic() + float(sys.argv[2])
    if s in r:
        f = s.recv(2048)
        if len(f) >= 34 and f[26:29] == bytes([10, 216, 1]):
            ids.add(struct.unpack("!H", f[18:20])[0])
print(" ".join(str(i) for i in sorted(ids)), flush=True)
"""

SENDER = """
import sys
from scapy.all import IP, TCP, UDP, ICMP, Raw, send
pkts = []
for line in sys.stdin:
    f = line.split()
    pid, src, dst, ttl, proto, a, b, flags, size = f
    ip = IP(id=int(pid), src=src, dst=dst, ttl=int(ttl))
    if proto == "tcp":
        l4 = TCP(sport=int(a), dport=int(b), flags=flags)
    elif proto == "udp":
        l4 = UDP(sport=int(a), dport=int(b))
    else:
        l4 = ICMP(type=int(a), code=int(b))
    pkts.append(ip / l4 / Raw(b"z" * int(size)))
send(pkts, verbose=False, inter=0.002)
"""

PORTS = [22, 53, 80, 443, 1000, 1024, 5000, 65535]


def rand_port_range(r):
    a = r.choice(PORTS)
    if r.random() < 0.5:
        return str(a)
    b = r.choice(PORTS)
    return "%d:%d" % (min(a, b), max(a, b))


def neg(r, p=0.25):
    return "! " if r.random() < p else ""


def rand_matches(r, chain):
    m = []
    if r.random() < 0.35:
        m.append("%s-s %s.%d/%d" % (neg(r), CLIENT_NET, r.randint(2, 9),
                                    r.choice([24, 29, 30, 31, 32])))
    if r.random() < 0.35:
        m.append("%s-d %s/%d" % (neg(r), r.choice(SERVER_HOSTS),
                                 r.choice([24, 31, 32])))
    if r.random() < 0.2 and chain != "PREROUTING":
        m.append("%s-o %s" % (neg(r), r.choice(["port1", "port+", "port0"])))
    if r.random() < 0.2:
        m.append("%s-i %s" % (neg(r), r.choice(["port0", "port1"])))
    proto = r.choice([None, "tcp", "udp", "icmp", "!tcp"])
    if proto == "!tcp":
        m.append("! -p tcp")
    elif proto is not None:
        m.append("-p " + proto)
        if proto in ("tcp", "udp"):
            if r.random() < 0.5:
                m.append("%s--dport %s" % (neg(r), rand_port_range(r)))
            if r.random() < 0.3:
                m.append("%s--sport %s" % (neg(r), rand_port_range(r)))
            if r.random() < 0.2:
                m.append("-m multiport %s--dports %s" % (
                    neg(r), ",".join(str(r.choice(PORTS)) if r.random() < 0.5
                                     else "%d:%d" % (1000, r.choice(PORTS[6:]))
                                     for _ in range(3))))
        if proto == "tcp" and r.random() < 0.3:
            m.append(r.choice(["--syn", "! --syn",
                               "--tcp-flags SYN,ACK,RST ACK",
                               "--tcp-flags ALL NONE"]))
        if proto == "icmp" and r.random() < 0.6:
            m.append("%s--icmp-type %s" % (neg(r), r.choice(
                ["echo-request", "8", "3/3", "port-unreachable",
                 "time-exceeded", "any"])))
    if r.random() < 0.15:
        a = r.randint(20, 200)
        m.append("-m length %s--length %d:%d" % (neg(r), a,
                                                 a + r.randint(0, 200)))
    if r.random() < 0.15:
        m.append("-m ttl --ttl-%s %d" % (r.choice(["gt", "lt"]),
                                         r.choice([3, 50, 100])))
    if r.random() < 0.1:
        m.append("-m iprange %s--src-range %s.2-%s.%d" % (
            neg(r), CLIENT_NET, CLIENT_NET, r.randint(2, 9)))
    if r.random() < 0.2 and chain != "PREROUTING":
        m.append("-m mark %s--mark 0x%x/0x3" % (neg(r), r.randint(0, 3)))
    # The interface matches are valid only where Linux allows them.
    if chain == "PREROUTING":
        m = [x for x in m if "-o " not in x]
    return " ".join(m)


def rand_ruleset(r, long_chains=False):
    """A random ruleset; @long_chains makes chains long enough for
    pktgate's candidate index (PGT_RS_INDEX_MIN_RULES, 32)."""
    lines = ["*mangle", ":PREROUTING ACCEPT [0:0]"]
    for _ in range(r.randint(0, 3)):
        lines.append("-A PREROUTING %s -j MARK --set-xmark 0x%x/0x3" % (
            rand_matches(r, "PREROUTING"), r.randint(0, 3)))
    lines += ["COMMIT", "*filter",
              ":FORWARD %s [0:0]" % r.choice(["ACCEPT", "DROP"]),
              ":U1 - [0:0]", ":U2 - [0:0]"]

    def target(chain):
        choices = ["ACCEPT", "DROP", "RETURN", "REJECT"]
        if chain in ("FORWARD", "U1"):
            choices += ["U2", "g U2"]
        if chain == "FORWARD":
            choices += ["U1", "g U1"]
        t = r.choice(choices)
        return "-g " + t[2:] if t.startswith("g ") else "-j " + t

    sizes = ((r.randint(40, 150), r.randint(32, 60), r.randint(0, 4))
             if long_chains else
             (r.randint(3, 10), r.randint(0, 5), r.randint(0, 4)))
    for chain, n in zip(("FORWARD", "U1", "U2"), sizes):
        for _ in range(n):
            lines.append("-A %s %s %s" % (chain, rand_matches(r, chain),
                                          target(chain)))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def rand_packets(r, base):
    out = []
    for i in range(PACKETS):
        proto = r.choice(["tcp", "udp", "icmp"])
        if proto == "icmp":
            a, b = r.choice([(8, 0), (0, 0), (3, 3), (11, 0), (3, 1)])
        else:
            a, b = r.choice(PORTS + [r.randint(1, 65535)]), \
                r.choice(PORTS + [r.randint(1, 65535)])
        out.append("%d %s.%d %s %d %s %d %d %s %d" % (
            base + i, CLIENT_NET, r.randint(2, 9), r.choice(SERVER_HOSTS),
            r.choice([2, 5, 64, 200]), proto, a, b,
            r.choice(["S", "SA", "A", "R", "F", "PA"]), r.randint(0, 300)))
    return out


def run_through(client_ns, server_ns, server_if, packets):
    sniffer = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "/usr/bin/python3", "-c", SNIFFER,
         server_if, "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    assert sniffer.stdout.readline().strip() == "ready"
    r = subprocess.run(["ip", "netns", "exec", client_ns, "/usr/bin/python3",
                        "-c", SENDER], input="\n".join(packets) + "\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out, _ = sniffer.communicate(timeout=30)
    return {int(x) for x in out.split()}


@pytest.fixture(scope="module")
def linux():
    """A Linux router: client -- port0 [router] port1 -- server, veths."""
    try:
        for ns in LX.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        for side, peer, net in (("client", "port0", CLIENT_NET),
                                ("server", "port1", SERVER_NET)):
            sh("ip", "link", "add", TAG + side[0], "type", "veth", "peer",
               "name", TAG + "r" + side[0])
            sh("ip", "link", "set", TAG + side[0], "netns", LX[side])
            sh("ip", "link", "set", TAG + "r" + side[0], "netns",
               LX["router"])
            sh("ip", "link", "set", TAG + "r" + side[0], "name", peer,
               ns=LX["router"])
            sh("ip", "addr", "add", net + ".1/24", "dev", peer,
               ns=LX["router"])
            sh("ip", "link", "set", peer, "up", ns=LX["router"])
            sh("ip", "link", "set", TAG + side[0], "up", ns=LX[side])
            for h in ([CLIENT_NET + ".2"] if side == "client" else
                      SERVER_HOSTS):
                sh("ip", "addr", "add", h + "/24", "dev", TAG + side[0],
                   ns=LX[side])
            sh("ip", "route", "add", "default", "via", net + ".1",
               ns=LX[side])
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=LX["router"])
        yield LX
    finally:
        for ns in LX.values():
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def pgt(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff")
    with NsRouter(tmp, TAG, (CLIENT_NET, SERVER_NET),
                  ("02:00:00:d9:00:02", "02:00:00:d9:01:02")) as r:
        for h in SERVER_HOSTS[1:]:
            sh("ip", "addr", "add", h + "/24", "dev", r.taps[1],
               ns=r.server_ns)
        yield r


def test_same_packets_arrive_as_through_linux(linux, pgt):
    rng = random.Random(int(os.environ.get("PGT_DIFF_SEED", "4242")))
    # Resolve neighbours on both sides first, with everything accepted.
    warm = ["%d %s.2 %s 64 udp 1 1 S 0" % (60000 + i, CLIENT_NET, h)
            for i, h in enumerate(SERVER_HOSTS)]
    run_through(linux["client"], linux["server"], TAG + "s", warm)
    run_through(pgt.client_ns, pgt.server_ns, pgt.taps[1], warm)
    for rnd in range(ROUNDS):
        rules = rand_ruleset(rng, long_chains=rnd % 2 == 1)
        packets = rand_packets(rng, rnd * PACKETS + 1)
        r = subprocess.run(["ip", "netns", "exec", linux["router"],
                            "iptables-restore"], input=rules,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (r.stderr, rules)
        pgt.daemon.call("iptables_restore", {"text": rules})
        got_linux = run_through(linux["client"], linux["server"], TAG + "s",
                                packets)
        got_pgt = run_through(pgt.client_ns, pgt.server_ns, pgt.taps[1],
                              packets)
        print("round %d: %d of %d packets arrive" % (rnd, len(got_linux),
                                                     len(packets)))
        differ = sorted(got_linux ^ got_pgt)
        assert not differ, "round %d: ruleset\n%s\npackets differing:\n%s" % (
            rnd, rules, "\n".join(
                ("linux " if int(p.split()[0]) in got_linux else "pktgate ")
                + p for p in packets if int(p.split()[0]) in differ))


# Stateful rules and NAT. The servers answer what they can without any
# randomness of their own: RSTs from closed ports, ICMP errors (rate limits
# off), ICMP echo replies and a UDP echo on port 7; so both routers see
# the same conversations and must let the same packets through, translated
# the same way. What is compared: what the servers receive (by IP id, and
# the errors they get), and everything the client gets back.
VIP = SERVER_NET + ".9"

UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""

# Records every IPv4 packet crossing @iface as a line of its fields.
RECORDER = """
import select, sys, time
from scapy.all import IP, TCP, UDP, ICMP, IPerror, TCPerror, UDPerror, \\
    conf, Ether
s = conf.L2listen(iface=sys.argv[1])
print("ready", flush=True)
seen, deadline = set(), None
mine = sys.argv[2]
while deadline is None or time.monotonic() < deadline:
    r, _, _ = select.select([s, sys.stdin] if deadline is None else [s],
                            [], [], 0.1)
    if sys.stdin in r and not sys.stdin.readline():
        deadline = time.monotonic() + float(sys.argv[3])
    if s not in r:
        continue
    p = s.recv()
    if p is None or IP not in p or p[IP].src.startswith(mine):
        continue
    ip = p[IP]
    f = [ip.src, ip.dst, ip.proto]
    if IPerror in p:
        q = p[IPerror]
        f += ["err", p[ICMP].type, p[ICMP].code, q.src, q.dst, q.proto]
        if TCPerror in p or UDPerror in p:
            l4 = p[TCPerror] if TCPerror in p else p[UDPerror]
            f += [l4.sport, l4.dport]
    elif TCP in p:
        f += [ip.id if sys.argv[4] == "id" else 0, p[TCP].dport,
              p[TCP].sport if sys.argv[4] != "id" else 0, str(p[TCP].flags)]
    elif UDP in p:
        f += [ip.id if sys.argv[4] == "id" else 0, p[UDP].dport,
              p[UDP].sport if sys.argv[4] != "id" else 0]
    elif ICMP in p:
        f += [ip.id if sys.argv[4] == "id" else 0, p[ICMP].type,
              p[ICMP].id]
    seen.add(" ".join(str(x) for x in f))
print("\\n".join(sorted(seen)), flush=True)
"""

STATEFUL_PORTS = [7, 53, 80, 8000]


def rand_stateful_ruleset(r):
    nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
           ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
    pool = [
        "-A PREROUTING -d %s/32 -p tcp -m tcp --dport 8000 -j DNAT "
        "--to-destination %s:80" % (VIP, SERVER_HOSTS[2]),
        "-A PREROUTING -d %s/32 -p udp -j DNAT --to-destination %s"
        % (VIP, SERVER_HOSTS[1]),
        "-A PREROUTING -d %s/32 -p icmp -j DNAT --to-destination %s"
        % (VIP, SERVER_HOSTS[0]),
        "-A POSTROUTING -d %s/32 -j SNAT --to-source %s.1"
        % (SERVER_HOSTS[0], SERVER_NET),
        "-A POSTROUTING -o port1 -p udp -j MASQUERADE",
        "-A POSTROUTING -d %s/32 -p tcp -j MASQUERADE" % SERVER_HOSTS[3],
    ]
    nat += [x for x in pool if r.random() < 0.5]
    filt = ["COMMIT", "*filter", ":INPUT ACCEPT [0:0]",
            ":FORWARD %s [0:0]" % r.choice(["ACCEPT", "DROP"]),
            ":OUTPUT ACCEPT [0:0]"]
    pool = [
        "-A FORWARD -m conntrack --ctstate INVALID -j DROP",
        "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -m state --state ESTABLISHED -j ACCEPT",
        "-A FORWARD -m conntrack --ctstate RELATED -j %s"
        % r.choice(["ACCEPT", "DROP"]),
        "-A FORWARD -p tcp -m tcp --dport %d -m conntrack --ctstate NEW "
        "-j ACCEPT" % r.choice(STATEFUL_PORTS),
        "-A FORWARD -p udp -m conntrack --ctstate NEW -j %s"
        % r.choice(["ACCEPT", "DROP"]),
        "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT",
        "-A FORWARD -m conntrack ! --ctstate SNAT -p icmp -j ACCEPT",
        "-A FORWARD -m conntrack --ctstatus SEEN_REPLY -j ACCEPT",
        "-A FORWARD -m conntrack --ctdir REPLY -p udp -j DROP",
        "-A FORWARD -i port1 -m conntrack --ctstate NEW -j DROP",
    ]
    filt += [x for x in pool if r.random() < 0.45]
    r.shuffle(filt[5:])
    return "\n".join(nat + filt + ["COMMIT"]) + "\n"


def rand_conversations(r, base):
    """Packets of a few flows from the client, in a random order of
    flags: new, repeated, out of the blue."""
    flows = []
    for _ in range(12):
        proto = r.choice(["tcp", "tcp", "udp", "udp", "icmp"])
        dst = r.choice(SERVER_HOSTS + [VIP])
        sport = r.randint(20000, 20100)
        flows.append((proto, dst, sport, r.choice(STATEFUL_PORTS)))
    out = []
    for i in range(PACKETS // 2):
        proto, dst, sport, dport = r.choice(flows)
        if proto == "icmp":
            a, b = r.choice([(8, 0), (8, 0), (0, 0), (3, 3)])
        else:
            a, b = sport, dport
        out.append("%d %s.2 %s 64 %s %d %d %s %d" % (
            base + i, CLIENT_NET, dst, proto, a, b,
            r.choice(["S", "S", "A", "PA", "R", "F", "SA", "FA"]),
            r.randint(0, 40)))
    return out


def record(client_ns, server_ns, client_if, server_if, packets):
    procs = []
    for ns, iface, mine, mode in ((server_ns, server_if, SERVER_NET, "id"),
                                  (client_ns, client_if, CLIENT_NET, "all")):
        p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3",
                              "-c", RECORDER, iface, mine + ".", "1.5",
                              mode], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        procs.append(p)
    r = subprocess.run(["ip", "netns", "exec", client_ns, "/usr/bin/python3",
                        "-c", SENDER], input="\n".join(packets) + "\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [set(p.communicate(timeout=30)[0].split("\n")) - {""}
            for p in procs]


def quiet_answers(ns):
    for knob in ("icmp_ratelimit=0", "icmp_msgs_per_sec=100000",
                 "icmp_msgs_burst=100000"):
        sh("sysctl", "-qw", "net.ipv4." + knob, ns=ns)


def test_stateful_and_nat_as_through_linux(linux, pgt, tmp_path):
    rng = random.Random(int(os.environ.get("PGT_DIFF_SEED", "4242")) + 1)
    echoes = []
    try:
        for client, server in ((linux["client"], linux["server"]),
                               (pgt.client_ns, pgt.server_ns)):
            quiet_answers(client)
            quiet_answers(server)
            echoes.append(subprocess.Popen(
                ["ip", "netns", "exec", server, "/usr/bin/python3", "-c",
                 UDP_ECHO], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        for rnd in range(STATEFUL_ROUNDS):
            rules = rand_stateful_ruleset(rng)
            packets = rand_conversations(rng, 30000 + rnd * PACKETS)
            r = subprocess.run(["ip", "netns", "exec", linux["router"],
                                "iptables-restore"], input=rules,
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, (r.stderr, rules)
            sh("conntrack", "-F", ns=linux["router"], check=False)
            pgt.daemon.call("iptables_restore", {"text": rules})
            pgt.daemon.ctl("conntrack", "-F")
            pgt.daemon.wait_for(lambda: pgt.daemon.call(
                "conntrack_config_get")["count"] == 0, what="flushed")
            lx = record(linux["client"], linux["server"], TAG + "c",
                        TAG + "s", packets)
            pg = record(pgt.client_ns, pgt.server_ns, pgt.taps[0],
                        pgt.taps[1], packets)
            print("round %d: server got %d, client got %d" % (
                rnd, len(lx[0]), len(lx[1])))
            for side, a, b in (("server", lx[0], pg[0]),
                               ("client", lx[1], pg[1])):
                assert a == b, "round %d, %s side\n%s\nlinux only:\n%s\n" \
                    "pktgate only:\n%s\npackets:\n%s" % (
                        rnd, side, rules, "\n".join(sorted(a - b)),
                        "\n".join(sorted(b - a)), "\n".join(packets))
    finally:
        for p in echoes:
            p.terminate()
            p.wait(10)
