"""The fault matrix: every wall netprobe must name, as one fixed list of cases (its length is the denominator).

Each case injects one real limit inside a network namespace of its own (tests/faults/harness.py)
and states what the limit implies: the stop reason, the side, the count the ramp reaches, and
words its remedy must contain. A case the machine cannot inject skips and says why; a case whose
setting is host-wide runs only when asked. Placeholders: {port} (the case's own port, free in
its namespace), {dir} (its scratch directory), {python} (this interpreter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

PORT = 7000
SERVE = ("{python}", "-m", "netprobe", "serve", "--port", "{port}")
TARGET = ("--target", "127.0.0.1:{port}")
FIREWALL_STEPS = ("--to", "200", "--step", "40", "--timeout", "1")


@dataclass(frozen=True)
class Case:
    """One injected wall and what netprobe must say of it."""

    name: str
    wall: str  # what is injected, in words
    ramp: tuple[str, ...]  # the ramp's options
    reason: str
    side: str
    reached: tuple[int, int]  # the count the limit implies, as an inclusive range
    servers: tuple[tuple[str, ...], ...] = ()  # commands started in the namespace; the first listens on {port}
    files: tuple[tuple[str, str], ...] = ()  # (name, text) written to the scratch directory first
    before: tuple[str, ...] = ()  # Python run in the namespace after the servers are up, before the ramp
    nft: Optional[str] = None  # chains of the namespace's firewall table
    sysctls: tuple[tuple[str, str], ...] = ()  # the namespace's own (net.*) settings
    nofile: Optional[int] = None  # the ramp's RLIMIT_NOFILE (soft and hard)
    cgroup: Optional[tuple[str, str, str]] = None  # (controller, setting, value) of a cgroup v1 group ...
    cgroup_holds: str = "ramp"  # ... holding the ramp, or the first server
    remedy: Optional[str] = None  # words the remedy must contain
    cause: Optional[str] = None  # the stop's cause, where its reason has several
    setting: Optional[str] = None  # the server setting the stop must name
    needs: tuple[str, ...] = ()  # programs the case runs ("python:MODULE": a module of this interpreter)
    setup: tuple[tuple[str, ...], ...] = ()  # commands run on the host before the servers start
    host_wide: bool = False  # its setting is the host's: only when asked, alone
    host_sysctls: tuple[tuple[str, str], ...] = ()  # the host's settings for the run, restored after


def _firewall(chain: str, rule: str) -> str:
    hook = "input" if chain == "in" else "output"
    return f"chain {chain} {{ type filter hook {hook} priority 0; tcp dport {{port}} ct state new {rule}; }}"


_NEVER_ACCEPTS = ("{python}", "-c", "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); "
                  "s.listen(64); time.sleep(600)")
# Accepts one connection every 40 ms (25 a second at most), echoes what it reads, and closes.
_SLOW_ACCEPTS = ("{python}", "-c", "import socket, time\n"
                 "s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(64)\n"
                 "while True:\n"
                 "    c, _ = s.accept(); c.settimeout(2)\n"
                 "    try:\n"
                 "        c.sendall(c.recv(65536))\n"
                 "    except OSError:\n"
                 "        pass\n"
                 "    c.close(); time.sleep(0.04)\n")
_PAUSE_THE_LISTENER = ("import os, signal, psutil\n"
                       "for c in psutil.net_connections('tcp'):\n"
                       "    if c.status == 'LISTEN' and c.laddr.port == {port} and c.pid:\n"
                       "        os.kill(c.pid, signal.SIGSTOP)\n")
# 100 connections closed by their client first: each leaves the client's port in TIME_WAIT to {port}.
_TIME_WAIT_100 = ("import socket\n"
                  "for _ in range(100):\n"
                  "    c = socket.create_connection(('127.0.0.1', {port}))\n"
                  "    c.sendall(b'x'); c.recv(1); c.close()\n")
_SOCAT_ECHO = ("socat", "TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,max-children=50,backlog=5", "EXEC:cat")
_ASGI_OK = """async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]})
    await send({"type": "http.response.body", "body": b"ok\\n"})
"""
_NGINX = """worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events { worker_connections 100; }
http { access_log off; server { listen 127.0.0.1:{port}; location / { return 200 "ok\\n"; } } }
"""
_HAPROXY = """global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:7001 maxconn 400
"""
_MOSQUITTO = """listener {port} 127.0.0.1
max_connections 100
allow_anonymous true
persistence false
"""

CASES: tuple[Case, ...] = (
    # --- the network: a firewall between client and server
    Case("syn-dropped-on-input", "nft input: drop new connections past 60", (*TARGET, *FIREWALL_STEPS),
         "syn_dropped", "network", (58, 60), servers=(SERVE,), nft=_firewall("in", "ct count over 60 drop"),
         remedy="nft list ruleset"),
    Case("syn-dropped-on-output", "nft output: drop new connections past 60", (*TARGET, *FIREWALL_STEPS),
         "syn_dropped", "network", (58, 60), servers=(SERVE,), nft=_firewall("out", "ct count over 60 drop"),
         remedy="nft list ruleset"),
    Case("reset-by-firewall", "nft input: reject new connections past 60 with a TCP reset",
         (*TARGET, *FIREWALL_STEPS), "reset_by_network", "network", (58, 60), servers=(SERVE,),
         nft=_firewall("in", "ct count over 60 reject with tcp reset"), remedy="reject with tcp reset"),
    Case("port-unreachable-by-firewall", "nft input: reject new connections past 60 (ICMP port unreachable)",
         (*TARGET, *FIREWALL_STEPS), "reset_by_network", "network", (58, 60), servers=(SERVE,),
         nft=_firewall("in", "ct count over 60 reject")),
    Case("prohibited-by-firewall", "nft input: reject new connections past 60 (ICMP administratively prohibited)",
         (*TARGET, *FIREWALL_STEPS), "reset_by_network", "network", (58, 60), servers=(SERVE,),
         nft=_firewall("in", "ct count over 60 reject with icmpx type admin-prohibited")),
    # --- the kernel: ports, queues
    Case("narrow-port-range", "net.ipv4.ip_local_port_range of 150 ports", (*TARGET, "--to", "400", "--step", "50"),
         "port_exhaustion", "client", (140, 150), servers=(SERVE,),
         sysctls=(("net.ipv4.ip_local_port_range", "40000 40149"),), remedy="ip_local_port_range"),
    Case("ports-in-time-wait", "150 ports, 100 of them in TIME_WAIT to the server (tcp_tw_reuse off)",
         (*TARGET, "--to", "400", "--step", "25"), "port_exhaustion", "client", (40, 50), servers=(SERVE,),
         before=(_TIME_WAIT_100,), remedy="ip_local_port_range",
         sysctls=(("net.ipv4.ip_local_port_range", "40000 40149"), ("net.ipv4.tcp_tw_reuse", "0"))),
    # Churn: each step opens 10 a second more, for 3 s, each closed by the client first; without reuse
    # every one holds its port 60 s, so the 100 ports are gone in the third step (30 + 60 + 10).
    Case("churn-time-wait", "churn through 100 ports, tcp_tw_reuse off: closed ports wait 60 s in TIME_WAIT",
         (*TARGET, "--verify", "echo", "--churn", "30", "--step", "10", "--hold", "3", "--max-latency", "2000"),
         "port_exhaustion", "client",
         (20, 20), servers=(SERVE,), remedy="keep-alive",
         sysctls=(("net.ipv4.ip_local_port_range", "40000 40099"), ("net.ipv4.tcp_tw_reuse", "0"))),
    # Churn past what a server accepts: 25 a second, with an accept queue of 4. At 30 a second the queue
    # overflows, each dropped handshake is sent again a second later, and p99 passes 500 ms.
    Case("churn-slow-accepts", "churn past a server that accepts 25 connections a second, net.core.somaxconn 4",
         (*TARGET, "--verify", "echo", "--churn", "40", "--step", "10", "--hold", "3", "--max-latency", "500"),
         "latency_knee", "server", (10, 20), cause="listen_overflow", servers=(_SLOW_ACCEPTS,),
         sysctls=(("net.core.somaxconn", "4"),), remedy="backlog"),
    Case("server-never-accepts", "a listener that never calls accept(), net.core.somaxconn 8",
         (*TARGET, "--to", "100", "--step", "20", "--timeout", "1"), "stopped_accepting", "server", (0, 0),
         servers=(_NEVER_ACCEPTS,), sysctls=(("net.core.somaxconn", "8"),)),
    Case("server-paused", "netprobe serve stopped with SIGSTOP", (*TARGET, "--to", "100", "--step", "20",
                                                                  "--timeout", "1"),
         "stopped_accepting", "server", (0, 0), servers=(SERVE,), before=(_PAUSE_THE_LISTENER,)),
    Case("nothing-listens", "no server on the port", (*TARGET, "--to", "100"), "refused", "server", (0, 0)),
    # --- process limits
    Case("client-fd-limit", "RLIMIT_NOFILE 200 on the ramp", (*TARGET, "--to", "400", "--step", "50"),
         "fd_limit", "client", (150, 200), servers=(SERVE,), nofile=200, remedy="raise the hard limit"),
    Case("server-fd-limit", "netprobe's own server at --fd-limit 200", ("--fd-limit", "200", "--to", "400",
                                                                         "--step", "50"),
         "fd_limit", "server", (150, 200), remedy="ulimit"),
    Case("external-server-fd-limit", "netprobe serve under RLIMIT_NOFILE 200",
         (*TARGET, "--to", "400", "--step", "50", "--timeout", "2"), "fd_limit", "server", (150, 200),
         servers=(("prlimit", "--nofile=200", *SERVE),), needs=("prlimit",)),
    Case("server-out-of-memory", "a memory cgroup of 40 MiB around netprobe serve",
         (*TARGET, "--to", "60000", "--step", "5000"), "server_exited", "server", (0, 60000), servers=(SERVE,),
         cgroup=("memory", "memory.limit_in_bytes", "40M"), cgroup_holds="server", remedy="memory limit"),
    Case("select-cap", "the select backend at FD_SETSIZE", ("--backend", "select", "--to", "1500", "--step", "250"),
         "select_limit", "server", (1000, 1023), remedy="epoll"),
    Case("thread-limit", "cgroup pids.max 60 around a ramp of the threads backend",
         ("--backend", "threads", "--to", "200", "--step", "20"), "thread_limit", "server", (20, 60),
         cgroup=("pids", "pids.max", "60")),
    # --- real servers' own caps
    Case("redis-maxclients", "redis --maxclients 100", (*TARGET, "--to", "200", "--step", "40"),
         "closed_by_server", "server", (98, 100), setting="redis maxclients", needs=("redis-server",),
         servers=(("redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--maxclients", "100", "--save", "",
                   "--appendonly", "no", "--protected-mode", "no"),)),
    Case("redis-protected-mode", "redis as shipped (protected mode), clients from two source addresses",
         (*TARGET, "--source-ips", "2", "--to", "200", "--step", "100"), "access_denied", "server", (50, 50),
         setting="redis protected-mode", needs=("redis-server",),
         servers=(("redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),)),
    Case("memcached-connections", "memcached -c 100", (*TARGET, "--to", "200", "--step", "40"),
         "closed_by_server", "server", (70, 100), setting="memcached -c", needs=("memcached",),
         servers=(("memcached", "-p", "{port}", "-l", "127.0.0.1", "-U", "0", "-c", "100", "-u", "root"),)),
    Case("nginx-worker-connections", "nginx worker_connections 100", (*TARGET, "--to", "200", "--step", "40"),
         "closed_by_server", "server", (80, 100), needs=("nginx",), files=(("nginx.conf", _NGINX),),
         servers=(("nginx", "-p", "{dir}", "-c", "{dir}/nginx.conf", "-g", "daemon off;"),)),
    Case("haproxy-maxconn", "haproxy maxconn 100", (*TARGET, "--to", "200", "--step", "40", "--timeout", "2"),
         "stopped_accepting", "server", (98, 100), needs=("haproxy",), files=(("haproxy.cfg", _HAPROXY),),
         servers=(("haproxy", "-db", "-f", "{dir}/haproxy.cfg"),
                  ("{python}", "-m", "netprobe", "serve", "--port", "7001"))),
    # mosquitto 2.0.11 lets one more in after a client closed before its CONNECT (the harness's own
    # listening check): `ss state established '( sport = :7000 )'` in the namespace counted 101 then.
    Case("mosquitto-max-connections", "mosquitto max_connections 100",
         (*TARGET, "--to", "200", "--step", "40", "--verify", "connect", "--hold", "1"),
         "closed_by_server", "server", (100, 101), needs=("mosquitto",), files=(("mosquitto.conf", _MOSQUITTO),),
         servers=(("mosquitto", "-c", "{dir}/mosquitto.conf"),)),
    Case("socat-max-children", "socat fork max-children=50 (echoing: each check's data gets it accepted)",
         (*TARGET, "--to", "200", "--step", "25", "--timeout", "3", "--verify", "echo"),
         "stopped_accepting", "server", (50, 50), needs=("socat",), servers=(_SOCAT_ECHO,)),
    Case("socat-backlog-burst", "socat's listen() backlog of 5 against bursts of 25 bare connects",
         (*TARGET, "--to", "200", "--step", "25", "--timeout", "2", "--verify", "connect"),
         "backlog", "server", (5, 24), needs=("socat",), servers=(_SOCAT_ECHO,), remedy="backlog"),
    # uvicorn counts the connection asking among its --limit-concurrency: the 50th is answered 503.
    Case("uvicorn-limit-concurrency", "a uvicorn app with --limit-concurrency 50",
         (*TARGET, "--probe", "http", "--to", "200", "--step", "20"), "closed_by_server", "server", (49, 49),
         setting="an HTTP server or proxy its connection or queue limit", needs=("python:uvicorn",),
         files=(("app.py", _ASGI_OK),),
         servers=(("{python}", "-m", "uvicorn", "app:app", "--app-dir", "{dir}", "--host", "127.0.0.1", "--port",
                   "{port}", "--limit-concurrency", "50", "--timeout-keep-alive", "120", "--log-level", "error"),)),
    # Connections waiting to authenticate hold a slot each: superuser_reserved_connections binds only after.
    Case("postgres-max-connections", "PostgreSQL max_connections 20, clients at its password prompt",
         (*TARGET, "--probe", "postgres", "--to", "60", "--step", "10"), "closed_by_server", "server", (20, 20),
         setting="PostgreSQL max_connections", needs=("runuser", "{pgbin}/postgres"),
         setup=(("install", "-d", "-o", "postgres", "{dir}/pg"),
                ("runuser", "-u", "postgres", "--", "{pgbin}/initdb", "-D", "{dir}/pg", "-U", "postgres",
                 "--auth-host=scram-sha-256", "--auth-local=trust")),
         servers=(("runuser", "-u", "postgres", "--", "{pgbin}/postgres", "-D", "{dir}/pg", "-p", "{port}", "-k",
                   "{dir}/pg", "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=20"),)),
    # --- host-wide settings: only when asked, alone
    Case("tcp-memory-pressure", "net.ipv4.tcp_mem of 50/60/70 pages (host-wide)",
         (*TARGET, "--to", "4000", "--step", "500", "--timeout", "2"), "memory", "system", (1, 4000),
         servers=(SERVE,), host_wide=True, host_sysctls=(("net.ipv4.tcp_mem", "50 60 70"),)),
)

CASE_NAMES = [case.name for case in CASES]


def docs_table() -> str:
    """The matrix of docs/walls.md, in markdown: each case, what it injects, and what netprobe must say."""
    rows = ["| case | wall injected | netprobe names | side | count | verified |", "|---|---|---|---|---|---|"]
    for case in CASES:
        low, high = case.reached
        count = (f"{low:,}" if low == high else f"{low:,}-{high:,}") + ("/s" if "--churn" in case.ramp else "")
        verified = ("known gap: only with `--host-wide`; idle connections never meet it" if case.host_wide
                    else "Linux, in CI (a network namespace per case)")
        named = f"`{case.reason}`" + (f" (`{case.cause}`)" if case.cause else "")
        rows.append(f"| `{case.name}` | {case.wall} | {named} | {case.side} | {count} | {verified} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(docs_table(), end="")
