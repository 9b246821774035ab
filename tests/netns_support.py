"""Network namespaces for cluster tests: one for the load balancer and one per replica, each
replica joined to the balancer's by a veth pair that the test creates and deletes.

Every address is in the loopback range (127.77.n.0/30 on the n-th pair, with the kernel's
route_localnet so that such addresses may cross a veth) and every namespace is the test's
own, so no traffic can leave them: the balancer's namespace has no other interface.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

SUBNET = "127.77"


def unavailable() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    probe = f"hsprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _run(*args: str) -> None:
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")


class Lab:
    """A balancer namespace and `count` replica namespaces, each on its own veth pair."""

    def __init__(self, count: int):
        tag = uuid.uuid4().hex[:6]
        self.balancer = f"hs{tag}-lb"
        self.replicas = [f"hs{tag}-r{n}" for n in range(1, count + 1)]
        self._made: list[str] = []
        try:
            for ns in (self.balancer, *self.replicas):
                _run("ip", "netns", "add", ns)
                self._made.append(ns)
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                self._loopback_range_may_cross(ns, "all")
            for n, ns in enumerate(self.replicas, start=1):
                outer = f"hs{tag}v{n}"
                _run("ip", "link", "add", outer, "netns", self.balancer, "type", "veth",
                     "peer", "name", "eth0", "netns", ns)
                for where, dev, host in ((self.balancer, outer, 1), (ns, "eth0", 2)):
                    self._loopback_range_may_cross(where, dev)
                    _run("ip", "-n", where, "addr", "add", f"{SUBNET}.{n}.{host}/30", "dev", dev)
                    _run("ip", "-n", where, "link", "set", dev, "up")
        except Exception:
            self.close()
            raise

    def address(self, n: int) -> str:
        """The address of replica n (1-based) as the balancer reaches it."""
        return f"{SUBNET}.{n}.2"

    def exec_in(self, ns: str) -> list[str]:
        """The command prefix that runs a program inside a namespace."""
        return ["ip", "netns", "exec", ns]

    @staticmethod
    def _loopback_range_may_cross(ns: str, dev: str) -> None:
        # 127/8 is local to `lo` and never routed by default: let this namespace route it on
        # the veth, and keep only 127.0.0.1 itself on lo.
        _run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.conf.{dev}.route_localnet=1")
        if dev == "all":
            subprocess.run(["ip", "-n", ns, "route", "del", "local", "127.0.0.0/8", "dev", "lo",
                            "table", "local"], capture_output=True)

    def close(self) -> None:
        """Delete the namespaces (their veth pairs go with them)."""
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made.clear()
