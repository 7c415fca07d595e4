# SPDX-License-Identifier: BSD-3-Clause
"""One rule change at a time on a long chain: the chain's candidate index is
patched, not built again, by each change (pgt_ruleset_index.c), so a long
random series of inserts, deletes, replaces and appends, each its own
commit, must leave a chain that gives every packet the verdict and the
counted rule that a first-match walk of the final rules gives.

The changes are part of the daemon's configuration (a replay of RPC calls,
one commit each) so that every packet meets the final ruleset."""
import random
import re

import pytest
from scapy.all import IP, TCP, UDP, Ether, rdpcap

from conftest import (PCAP_CLIENT as CLIENT, PCAP_CLIENT_MAC as CLIENT_MAC,
                      PCAP_MAC0 as MAC0, pcap_daemon, pcap_router_config)

SERVERS = ["10.2.0.%d" % i for i in range(2, 6)]
PROTOS = {"udp": 17, "tcp": 6}


class Rule:
    """One FORWARD rule, as text and as the model that judges packets."""

    def __init__(self, rng):
        self.proto = rng.choice(["udp", "tcp", None])
        self.dst, self.dlen, self.neg_dst = None, 0, False
        kind = rng.random()
        if kind < 0.5:              # a server or a block of them
            self.dst, self.dlen = rng.choice(SERVERS), rng.choice([32, 30, 16])
        elif kind < 0.6:            # a /16 no packet goes to
            self.dst, self.dlen = "10.%d.0.0" % rng.randint(3, 9), 16
        elif kind < 0.7:            # negated: not filed by address
            self.dst, self.dlen = rng.choice(SERVERS), 32
            self.neg_dst = True
        self.ports = None
        if self.proto is not None and rng.random() < 0.8:
            lo = rng.randint(1000, 1400)
            # Narrow ranges are filed by port; wide ones are not.
            self.ports = (lo, lo + rng.choice([0, 0, 5, 40, 300]))
        self.accept = rng.random() < 0.5

    @classmethod
    def everywhere(cls, rng):
        """A rule the index files by no key (a candidate for every
        packet) that matches only one protocol's packets."""
        r = cls(rng)
        r.proto, r.dst, r.dlen, r.neg_dst = rng.choice(["udp", "tcp"]), \
            None, 0, False
        r.ports = rng.choice([None, (1000, 1400)])
        return r

    def text(self):
        words = []
        if self.dst is not None:
            words += (["!"] if self.neg_dst else []) + \
                ["-d", "%s/%d" % (self.dst, self.dlen)]
        if self.proto is not None:
            words += ["-p", self.proto]
            if self.ports is not None:
                lo, hi = self.ports
                words += ["-m", self.proto, "--dport",
                          str(lo) if lo == hi else "%d:%d" % (lo, hi)]
        return " ".join(words + ["-j", "ACCEPT" if self.accept else "DROP"])

    def matches(self, proto, dst, dport):
        if self.dst is not None:
            mask = (0xffffffff << (32 - self.dlen)) & 0xffffffff
            hit = ip4(dst) & mask == ip4(self.dst) & mask
            if hit == self.neg_dst:
                return False
        if self.proto is not None and PROTOS[self.proto] != proto:
            return False
        if self.ports is not None and \
                not self.ports[0] <= dport <= self.ports[1]:
            return False
        return True


def ip4(a):
    b = [int(x) for x in a.split(".")]
    return b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]


def changes(rng, rules, count, grow):
    """@count single-rule commands applied to @rules (changed in place);
    @grow is the chance that a command adds a rule."""
    cmds = []
    for _ in range(count):
        n = len(rules)
        op = rng.random()
        if n == 0 or op < grow:
            r = Rule(rng)
            if rng.random() < 0.5:
                pos = rng.randint(1, n + 1)
                rules.insert(pos - 1, r)
                cmds.append("-I FORWARD %d %s" % (pos, r.text()))
            else:
                rules.append(r)
                cmds.append("-A FORWARD " + r.text())
        elif op < grow + (1 - grow) / 2:
            pos = rng.randint(1, n)
            del rules[pos - 1]
            cmds.append("-D FORWARD %d" % pos)
        else:
            pos = rng.randint(1, n)
            rules[pos - 1] = Rule(rng)
            cmds.append("-R FORWARD %d %s" % (pos, rules[pos - 1].text()))
    return cmds


def packets(rng, count):
    out = []
    for i in range(count):
        proto = rng.choice([17, 6])
        dst = rng.choice(SERVERS)
        dport = rng.randint(990, 1750)
        l4 = UDP(sport=5000, dport=dport) if proto == 17 else \
            TCP(sport=5000, dport=dport, flags="S")
        out.append(Ether(src=CLIENT_MAC, dst=MAC0) /
                   IP(src=CLIENT, dst=dst, id=i + 1) / l4)
    return out


def run_series(tmp, seed, start, count, grow, lead):
    rng = random.Random(seed)
    rules = [Rule.everywhere(rng) for _ in range(lead)] + \
        [Rule(rng) for _ in range(start - lead)]
    policy = rng.choice(["ACCEPT", "DROP"])
    restore = "*filter\n:FORWARD %s [0:0]\n" % policy + "".join(
        "-A FORWARD %s\n" % r.text() for r in rules) + "COMMIT\n"
    cmds = changes(rng, rules, count, grow)
    pkts = packets(rng, 400)
    config = pcap_router_config() + [
        {"method": "ip_neigh_add", "params": {
            "address": a, "port": "port1", "mac": "02:00:00:00:02:%02x" % i}}
        for i, a in enumerate(SERVERS[1:], 3)] + [
        {"method": "iptables_restore", "params": {"text": restore}}] + [
        {"method": "iptables", "params": {"command": c}} for c in cmds]
    d, _, out1 = pcap_daemon(tmp, pkts, config)
    try:
        d.wait_for(lambda: d.stats("port0")["rx_packets"] == len(pkts),
                   what="all input received")
        d.wait_for(lambda: sum(d.stats("port0")[k] for k in ("forwarded",
                                                           "drops_total"))
                   == len(pkts), what="every packet forwarded or dropped")
        saved = d.call("iptables_save", {"counters": True})["text"]
    finally:
        d.stop()
    counted = [int(m.group(1)) for m in re.finditer(
        r"^\[(\d+):\d+\] -A FORWARD ", saved, re.M)]
    assert len(counted) == len(rules)
    want_counts = [0] * len(rules)
    accepted = set()
    for p in pkts:
        l4 = p[UDP] if UDP in p else p[TCP]
        for i, r in enumerate(rules):
            if r.matches(p[IP].proto, p[IP].dst, l4.dport):
                want_counts[i] += 1
                if r.accept:
                    accepted.add(p[IP].id)
                break
        else:
            if policy == "ACCEPT":
                accepted.add(p[IP].id)
    got = {p[IP].id for p in rdpcap(out1) if IP in p}
    return got, accepted, counted, want_counts


@pytest.mark.parametrize("seed,start,count,grow,lead", [
    (1, 300, 120, 0.4, 0),  # a long chain, every kind of change
    (2, 40, 80, 0.3, 0),    # shrinks below the indexed length and back
    (3, 34, 100, 0.6, 0),   # grows from just above it
    # Starts with rules every packet must try, which the walk takes
    # before it looks the index up, changed in front and behind.
    (4, 200, 60, 0.3, 4),
])
def test_changes_one_at_a_time_match_a_first_match_walk(tmp_path, seed, start,
                                                         count, grow, lead):
    got, want, counted, want_counts = run_series(tmp_path, seed, start,
                                                 count, grow, lead)
    assert got == want
    assert counted == want_counts
