#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The soak: SECONDS of mixed real traffic through pktgate on net_tap
(scripts/soak explains). Prints a sample every 10 s and a verdict; exits 1
if any check failed."""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import NsRouter  # noqa: E402

TAG = "sk%d" % (os.getpid() % 100000)
CLIENT_NET, SERVER_NET = "10.223.1", "10.223.2"
SERVER = SERVER_NET + ".2"
SAMPLE_S = 10
# Conntrack timeouts short enough that the table can drain in a minute.
SHORT_TIMEOUTS = {"tcp_timeout_time_wait": 5, "tcp_timeout_close": 5,
                  "tcp_timeout_fin_wait": 5, "tcp_timeout_last_ack": 5,
                  "tcp_timeout_close_wait": 5, "tcp_timeout_syn_sent": 5,
                  "tcp_timeout_syn_recv": 5, "tcp_timeout_established": 60,
                  "udp_timeout": 5, "udp_timeout_stream": 5,
                  "icmp_timeout": 5, "generic_timeout": 5}
RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:churn - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -j churn
-A FORWARD -m set --match-set soakblock dst -j DROP
-A FORWARD -p tcp -m tcp --dport 8080 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 5201 -j ACCEPT
-A FORWARD -p icmp -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o port1 -j MASQUERADE
COMMIT
"""


def loop(ns, seconds, cmd):
    """Run @cmd again and again in @ns for @seconds (a bounded shell loop:
    each run is itself bounded by timeout(1))."""
    script = ('end=$(( $(date +%%s) + %d )); n=0; '
              'while [ $(date +%%s) -lt $end ]; do '
              'timeout 30 %s >/dev/null 2>&1 && n=$((n+1)); done; echo $n'
              % (seconds, cmd))
    return subprocess.Popen(["ip", "netns", "exec", ns, "bash", "-c", script],
                            stdout=subprocess.PIPE, text=True)


def rss_kb(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def churn(d, rng, state):
    """One random change: a rule in chain churn, a set entry, a route."""
    what = rng.randrange(3)
    if what == 0:
        port = rng.randrange(20000, 20100)
        rule = ["-p", "tcp", "--dport", str(port), "-j", "DROP"]
        op = "-D" if port in state["rules"] else "-A"
        d.ctl("iptables", op, "churn", *rule)
        state["rules"] ^= {port}
    elif what == 1:
        addr = "10.224.%d.%d" % (rng.randrange(4), rng.randrange(1, 255))
        op = "del" if addr in state["set"] else "add"
        d.ctl("ipset", op, "soakblock", addr)
        state["set"] ^= {addr}
    else:
        net = "10.225.%d.0/24" % rng.randrange(64)
        op = "del" if net in state["routes"] else "add"
        d.ctl("ip", "route", op, "blackhole", net)
        state["routes"] ^= {net}
    state["changes"] += 1


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    results = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    rng = random.Random(1)
    tmp = Path(tempfile.mkdtemp(prefix="pktgate-soak-"))
    (tmp / "www").mkdir()
    (tmp / "www" / "file").write_bytes(os.urandom(256 << 10))
    router = NsRouter(tmp, TAG, (CLIENT_NET, SERVER_NET),
                      ("02:00:00:f1:23:02", "02:00:00:f2:23:02"))
    failures, samples = [], []
    with router as r:
        d = r.daemon
        d.call("conntrack_config_set", SHORT_TIMEOUTS)
        d.ctl("ipset", "create", "soakblock", "hash:ip")
        d.call("iptables_restore", {"text": RULES})
        r.serve_http(tmp / "www")
        r.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", r.server_ns, "iperf3", "-s", "-B",
             SERVER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
        # Free buffers before the traffic (the RX rings hold their share).
        free_before = d.call("system_info")["mbufs"]["available"]
        loops = {
            "curl": loop(r.client_ns, seconds,
                         "curl -sf -o /dev/null http://%s:8080/file" % SERVER),
            "iperf3": loop(r.client_ns, seconds,
                           "iperf3 -c %s -t 10 -b 100M" % SERVER),
            "ping -f": loop(r.client_ns, seconds,
                            "ping -f -q -w 5 %s" % SERVER),
        }
        r.procs.extend(loops.values())
        state = {"rules": set(), "set": set(), "routes": set(),
                 "changes": 0}
        start = time.monotonic()
        next_sample = start
        while time.monotonic() - start < seconds:
            churn(d, rng, state)
            if time.monotonic() >= next_sample:
                info = d.call("system_info")
                s = {"t": round(time.monotonic() - start),
                     "rss_kb": rss_kb(d.proc.pid),
                     "heap_bytes": info["heap_allocated_bytes"],
                     "mbufs_free": info["mbufs"]["available"],
                     "conntrack": d.call("conntrack_stats_get")["count"],
                     "changes": state["changes"]}
                samples.append(s)
                print("t=%(t)4ds rss=%(rss_kb)d kB heap=%(heap_bytes)d "
                      "mbufs_free=%(mbufs_free)d conntrack=%(conntrack)d "
                      "changes=%(changes)d" % s, flush=True)
                next_sample += SAMPLE_S
            time.sleep(0.2)
        runs = {k: int(p.communicate(timeout=60)[0] or 0)
                for k, p in loops.items()}
        print("traffic runs completed: " + ", ".join(
            "%s %d" % kv for kv in runs.items()), flush=True)
        for k, n in runs.items():
            if n == 0:
                failures.append("no %s run completed" % k)
        # Drain: the connections time out (short timeouts above).
        drain_start = time.monotonic()
        while time.monotonic() - drain_start < 90:
            ct = d.call("conntrack_stats_get")["count"]
            if ct == 0:
                break
            time.sleep(1)
        print("conntrack after the traffic: %d (%.0f s)" %
              (ct, time.monotonic() - drain_start), flush=True)
        if ct != 0:
            failures.append("conntrack did not drain: %d left" % ct)
        free = d.call("system_info")["mbufs"]["available"]
        print("free packet buffers: %d before the traffic, %d after" %
              (free_before, free), flush=True)
        if free != free_before:
            failures.append("packet buffers: %d free after the traffic, %d "
                            "before" % (free, free_before))
        # Growth after the first minute (or half the run, if shorter):
        # memory is touched as tables fill, and settles by then.
        settle_s = min(60, seconds // 2)
        settled = [s for s in samples if s["t"] >= settle_s] or samples
        grow = samples[-1]["rss_kb"] - settled[0]["rss_kb"]
        heap_grow = samples[-1]["heap_bytes"] - settled[0]["heap_bytes"]
        print("growth after %d s: RSS %d kB, DPDK heap %d bytes" %
              (settled[0]["t"], grow, heap_grow), flush=True)
        if grow > 4096:
            failures.append("RSS grew by %d kB" % grow)
        if heap_grow > 1 << 20:
            failures.append("DPDK heap grew by %d bytes" % heap_grow)
        drops = d.call("port_stats_get", {"port": "port0"})["drops"]
        drops1 = d.call("port_stats_get", {"port": "port1"})["drops"]
        dropped = {k: drops[k] + drops1[k] for k in drops
                   if drops[k] + drops1[k]}
        print("drops: %s" % (dropped or "none"), flush=True)
        if d.proc.poll() is not None:
            failures.append("pktgate exited %d" % d.proc.returncode)
        status = d.stop()
    log = d.log()
    if status != 0:
        failures.append("pktgate exited %s at the stop" % status)
    if "packet buffers returned" not in log or " not returned" in log:
        failures.append("not every packet buffer returned at the stop")
    if results is not None:
        results.write_text(json.dumps({
            "seconds": seconds, "samples": samples, "runs": runs,
            "changes": state["changes"], "drops": dropped,
            "failures": failures}, indent=1))
    print("soak: %s" % ("; ".join(failures) if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
