# SPDX-License-Identifier: BSD-3-Clause
"""The JSON-RPC socket against hostile and concurrent clients."""
import json
import os
import socket
import threading
import time

import pytest

from conftest import RpcError, free_port, read_reply, rpc_raw

PORTS = ["net_ring0", "net_ring1"]


@pytest.fixture
def daemon(daemons):
    return daemons(PORTS).start()


def connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.sock)
    return s


def test_get_methods_schema(daemon):
    methods = {m["name"]: m for m in daemon.call("rpc_get_methods")}
    for name in ("port_list", "port_set", "port_stats_get", "ip_addr_add",
                 "ip_addr_del", "ip_route_add", "ip_route_del",
                 "ip_route_list", "ip_route_get", "ip_neigh_list",
                 "ip_neigh_flush", "save_config", "system_info"):
        assert name in methods
        assert methods[name]["description"]
    params = {p["name"]: p for p in methods["ip_addr_add"]["params"]}
    assert params["address"]["required"] and params["port"]["required"]
    mtu = [p for p in methods["port_set"]["params"] if p["name"] == "mtu"][0]
    assert (mtu["min"], mtu["max"]) == (68, 9000)


def test_errors_are_precise(daemon):
    with pytest.raises(RpcError) as e:
        daemon.call("no_such_method")
    assert e.value.code == -32601
    with pytest.raises(RpcError) as e:
        daemon.call("ip_addr_add", {"address": "10.0.0.300/24",
                                    "port": "port0"})
    assert e.value.code == -32602 and "address" in e.value.message
    with pytest.raises(RpcError) as e:
        daemon.call("ip_addr_add", {"address": "10.0.0.1/24", "port": "x"})
    assert e.value.code == -19 and "no port named 'x'" in e.value.message
    with pytest.raises(RpcError) as e:
        daemon.call("port_set", {"port": "port0", "mtu": 10})
    assert e.value.code == -32602 and "out of range" in e.value.message
    # Nothing changed by the failed calls.
    assert daemon.call("ip_addr_list") == []


def test_batch_and_notification(daemon):
    resp = rpc_raw(daemon.sock, b'[{"jsonrpc":"2.0","id":1,'
                   b'"method":"system_info"}]')
    assert resp["error"]["code"] == -32600
    # A notification is executed but not answered: the next reply on the
    # same connection is for the request that follows it.
    s = connect(daemon)
    s.sendall(b'{"jsonrpc":"2.0","method":"ip_addr_add","params":'
              b'{"address":"10.9.0.1/24","port":"port0"}}'
              b'{"jsonrpc":"2.0","id":"after","method":"ip_addr_list"}')
    resp = read_reply(s)
    s.close()
    assert resp["id"] == "after"
    assert resp["result"] == [{"port": "port0", "address": "10.9.0.1/24"}]


def test_malformed_json_closes_connection(daemon):
    s = connect(daemon)
    s.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": }')
    resp = read_reply(s)
    assert resp["error"]["code"] == -32700
    assert s.recv(10) == b""          # closed after the error
    s.close()
    resp = rpc_raw(daemon.sock, b"hello")
    assert resp["error"]["code"] == -32700
    assert daemon.call("system_info")["nb_workers"] == 1


def test_oversized_request(daemon):
    s = connect(daemon)
    big = b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"' + \
        b"x" * (65 << 20)
    try:
        s.sendall(big)
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = read_reply(s)
    s.close()
    assert resp is None or resp["error"]["code"] == -32600
    assert daemon.call("system_info")["nb_workers"] == 1


def test_pipelined_and_split_requests(daemon):
    s = connect(daemon)
    req = b'{"jsonrpc":"2.0","id":%d,"method":"port_list"}'
    s.sendall(req % 1 + b"\n" + req % 2)
    # The third request arrives one byte at a time.
    for b in (req % 3):
        s.send(bytes([b]))
    ids = []
    buf = b""
    dec = json.JSONDecoder()
    while len(ids) < 3:
        buf += s.recv(65536)
        text = buf.decode()
        while text.strip():
            text = text.lstrip()
            try:
                obj, end = dec.raw_decode(text)
            except ValueError:
                break
            ids.append(obj["id"])
            text = text[end:]
        buf = text.encode()
    s.close()
    assert ids == [1, 2, 3]


def test_silent_and_concurrent_clients(daemon):
    # Clients that connect and say nothing, or half a request, must not
    # stop the thread from serving everyone else.
    silent = [connect(daemon) for _ in range(10)]
    half = connect(daemon)
    half.sendall(b'{"jsonrpc":"2.0","id":1,"meth')
    errors = []

    def worker(n):
        try:
            for i in range(20):
                r = rpc_raw(daemon.sock, json.dumps(
                    {"jsonrpc": "2.0", "id": n * 100 + i,
                     "method": "port_list"}).encode())
                assert r["id"] == n * 100 + i and len(r["result"]) == 2
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert time.time() - start < 30
    # The half request completes later and is answered.
    half.sendall(b'od":"system_info"}')
    assert read_reply(half)["id"] == 1
    for s in silent + [half]:
        s.close()


def test_stalled_partial_request_is_dropped(daemon):
    s = connect(daemon)
    s.settimeout(20)
    s.sendall(b'{"jsonrpc":"2.0","id":1,')
    start = time.time()
    assert s.recv(10) == b""          # server hung up on the staller
    assert 8 < time.time() - start < 18
    s.close()


def test_socket_mode_and_removal(daemon):
    import os
    import stat
    mode = stat.S_IMODE(os.stat(daemon.sock).st_mode)
    assert mode == 0o660
    assert daemon.stop() == 0
    assert not os.path.exists(daemon.sock)
    assert "all 8191 packet buffers returned" in daemon.log()


def test_second_daemon_refuses_live_socket(daemon, daemons, tmp_path):
    other = daemons(["net_ring5"])
    other.cmd[other.cmd.index("--rpc-socket") + 1] = daemon.sock
    other.start(expect_ready=False)
    assert other.proc.wait(30) == 1
    assert "Address already in use" in other.log()
    assert daemon.call("system_info")["nb_workers"] == 1


def test_socket_is_for_owner_and_one_group(daemons):
    """Whoever can write to the socket controls the gateway: mode 0660,
    the group chosen by --rpc-group; an unknown group stops the start."""
    import grp
    import stat
    d = daemons(["net_null0"], extra=("--rpc-group", "daemon")).start()
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == grp.getgrnam("daemon").gr_gid
    bad = daemons(["net_null1"], extra=("--rpc-group", "no-such-group-x"))
    bad.start(expect_ready=False)
    assert bad.proc.wait(30) != 0
    assert "no such group" in bad.log()


# The TCP listener: off unless asked for, loopback unless told otherwise,
# and every request carries the token.
TOKEN = "s3cret-token-0123456789"


def tcp_call(port, req):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(json.dumps(req).encode())
    reply = read_reply(s)
    # After an unauthorized answer the server closes the connection.
    closed = s.recv(1) == b"" if reply and "error" in reply else None
    s.close()
    return reply, closed


@pytest.fixture
def token_file(tmp_path):
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o600)
    return f


def test_tcp_is_off_by_default(daemon):
    assert "--rpc-tcp" not in daemon.cmd
    pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    assert daemon.proc.pid in pids
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % daemon.proc.pid):
        target = os.readlink("/proc/%d/fd/%s" % (daemon.proc.pid, fd))
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/tcp") as f:
        listening = [line.split() for line in f.readlines()[1:]]
    # State 0A is LISTEN; none of them is the daemon's.
    assert not [l for l in listening if l[3] == "0A" and l[9] in inodes]


def test_tcp_needs_the_token(daemons, token_file):
    port = free_port()
    d = daemons(PORTS, extra=["--rpc-tcp", str(port), "--rpc-token-file",
                              str(token_file)]).start()
    assert "JSON-RPC listening on tcp %d (token required)" % port in d.log()
    req = {"jsonrpc": "2.0", "id": 1, "method": "system_info"}
    reply, closed = tcp_call(port, req)
    assert reply["error"]["code"] == -32001 and closed
    reply, closed = tcp_call(port, dict(req, token=TOKEN[:-1] + "x"))
    assert reply["error"]["code"] == -32001 and closed
    reply, _ = tcp_call(port, dict(req, token=TOKEN))
    assert reply["result"]["nb_workers"] == 1
    # A batch (refused over the Unix socket too) has no token to give.
    reply, closed = tcp_call(port, [dict(req, token=TOKEN)])
    assert reply["error"]["code"] == -32001 and closed
    assert "request without the right token; closed" in d.log()
    # pktgatectl over TCP, with the token file.
    r = d.ctl("-s", "127.0.0.1:%d" % port, "-T", str(token_file), "ip",
              "link")
    assert "port0" in r.stdout
    r = d.ctl("-s", "127.0.0.1:%d" % port, "ip", "link", check=False)
    assert r.returncode == 1 and "give the token file" in r.stderr
    # A bare port listens on loopback only.
    with open("/proc/net/tcp") as f:
        assert any(l.split()[1] == "0100007F:%04X" % port and
                   l.split()[3] == "0A" for l in f.readlines()[1:])


@pytest.mark.parametrize("extra,message", [
    (["--rpc-tcp", "5999"], "--rpc-tcp and --rpc-token-file go together"),
    (["--rpc-tcp", "1.2.3:80", "--rpc-token-file", "{tok}"],
     "--rpc-tcp 1.2.3:80: not [ADDR:]PORT"),
    (["--rpc-tcp", "{port}", "--rpc-token-file", "{open}"],
     "not a regular file readable by its owner only"),
    (["--rpc-tcp", "{port}", "--rpc-token-file", "{short}"],
     "fewer than 16 characters"),
])
def test_tcp_refusals(daemons, tmp_path, token_file, extra, message):
    (tmp_path / "open").write_text(TOKEN + "\n")
    (tmp_path / "open").chmod(0o644)
    (tmp_path / "short").write_text("short\n")
    (tmp_path / "short").chmod(0o600)
    names = {"tok": str(token_file), "port": str(free_port()),
             "open": str(tmp_path / "open"),
             "short": str(tmp_path / "short")}
    d = daemons(PORTS, extra=[e.format(**names) for e in extra])
    d.start(expect_ready=False)
    assert d.proc.wait(20) != 0
    d.logf.flush()
    assert message in d.log()
