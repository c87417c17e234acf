"""Hosts made of network namespaces on one bridge: a distributed ramp across a network the test owns.

Each ``Hosts`` makes a bridge in a namespace of its own and one namespace per host, joined to the
bridge by a veth pair, with an address of a /24 that exists only inside these namespaces (10.N.M.x,
N and M from this process's pid and a counter, so a second copy of the suite makes other ones).
A host's link can lose packets (nft, in its namespace) or be cut (its bridge port set down); every
namespace, and whatever still runs in one, is removed at the end. Nothing here sends a packet to
any address outside the namespaces it made.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from tests.faults.harness import Namespace

_subnets = itertools.count()


def cannot_make_hosts() -> Optional[str]:
    """Why this machine cannot make hosts of namespaces (not Linux, not root, no iproute2), or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux's"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


class Host(Namespace):
    """One host: a namespace with one address on the bridge."""

    def __init__(self, address: str, port: str) -> None:
        super().__init__()
        self.address = address
        self.port = port  # its veth's name on the bridge side

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """``argv`` started on this host."""
        return subprocess.Popen(self.argv(argv), **kwargs)

    def lose(self, one_in: int) -> None:
        """Drop one incoming packet in ``one_in``, at random, on this host's link."""
        self.firewall(f"chain loss {{\n type filter hook input priority 0;\n numgen random mod {one_in} 0 drop\n}}")


class Hosts:
    """``count`` hosts on one bridge; ``hosts[0]`` is 10.N.M.1, and so on."""

    def __init__(self, count: int) -> None:
        n = next(_subnets)
        self.subnet = f"10.{100 + os.getpid() % 100}.{n % 250}"
        self.bridge = Namespace()
        self.hosts: list[Host] = []
        try:
            _run(["ip", "-n", self.bridge.name, "link", "add", "br0", "type", "bridge"])
            _run(["ip", "-n", self.bridge.name, "link", "set", "br0", "up"])
            for i in range(1, count + 1):
                host = Host(f"{self.subnet}.{i}", f"p{os.getpid() % 100000}x{n}x{i}")
                self.hosts.append(host)
                _run(["ip", "link", "add", "eth0", "netns", host.name, "type", "veth", "peer", "name", host.port,
                      "netns", self.bridge.name])
                _run(["ip", "-n", host.name, "addr", "add", f"{host.address}/24", "dev", "eth0"])
                _run(["ip", "-n", host.name, "link", "set", "eth0", "up"])
                _run(["ip", "-n", self.bridge.name, "link", "set", host.port, "master", "br0"])
                _run(["ip", "-n", self.bridge.name, "link", "set", host.port, "up"])
        except BaseException:
            self.remove()
            raise

    def cut(self, host: Host) -> None:
        """Cut ``host`` off the network: its port on the bridge goes down, its packets go nowhere."""
        _run(["ip", "-n", self.bridge.name, "link", "set", host.port, "down"])

    def remove(self) -> None:
        """Delete every host and the bridge, and whatever still runs in them."""
        for namespace in [*self.hosts, self.bridge]:
            namespace.delete()


@contextmanager
def network(count: int) -> Iterator[Hosts]:
    """``count`` hosts on a bridge of their own, removed afterwards with all they ran."""
    made = Hosts(count)
    try:
        yield made
    finally:
        made.remove()
