"""A control plane with simulated nodes, for the workload and scheduling tests."""

import json
import signal
import subprocess
import time

from conftest import ControlPlane, keelson_bin


class SimNodes:
    """A `keelson sim-nodes` process; killing it looks like node failure to the cluster."""

    def __init__(self, plane, count, prefix="sim-", zones=("zone-a", "zone-b", "zone-c"), start_index=0,
                 extra=()):
        self.log_path = plane.data_dir / f"sim-nodes-{prefix}{start_index}.log"
        args = [keelson_bin(), "sim-nodes", "--kubeconfig", plane.kubeconfig, "--count", str(count),
                "--name-prefix", prefix, "--start-index", str(start_index), "--zones", ",".join(zones),
                "--job-duration", "1s", "--lease-renew-interval", "1s", *extra]
        self.proc = subprocess.Popen(args, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        self.names = [f"{prefix}{i}" for i in range(start_index, start_index + count)]
        plane.wait_for(lambda: self._ready(plane), f"nodes {self.names} Ready", timeout=60)

    def _ready(self, plane):
        if self.proc.poll() is not None:
            raise RuntimeError(f"sim-nodes exited:\n{self.log_path.read_text()[-3000:]}")
        nodes = json.loads(plane.kubectl("get", "nodes", "-o", "json"))["items"]
        ready = {n["metadata"]["name"] for n in nodes
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))}
        return set(self.names) <= ready

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Cluster:
    """One control plane (short node-failure timings) and three simulated nodes in three zones."""

    def __init__(self, version="1.33"):
        self.plane = ControlPlane(version, extra_args=["--node-monitor-grace-period", "4s"]).start()
        self.sims = [SimNodes(self.plane, 3)]

    def add_nodes(self, count, prefix, **kwargs):
        sim = SimNodes(self.plane, count, prefix=prefix, **kwargs)
        self.sims.append(sim)
        return sim

    def close(self):
        for sim in self.sims:
            sim.kill()
        self.plane.cleanup()


def pods(plane, namespace, selector=None):
    args = ["get", "pods", "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    return json.loads(plane.kubectl(*args))["items"]


def running(plane, namespace, selector=None):
    return [p for p in pods(plane, namespace, selector)
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def apply(plane, namespace, *manifests):
    plane.kubectl("apply", "-n", namespace, "-f", "-",
                  input="\n---\n".join(json.dumps(m) for m in manifests))


def eventually(plane, check, what, timeout=60):
    last = [None]

    def probe():
        last[0] = check()
        return bool(last[0])

    try:
        plane.wait_for(probe, what, timeout=timeout)
    except AssertionError as err:
        raise AssertionError(f"{err}; last seen: {last[0]!r}") from None
    return last[0]


def now():
    return time.time()
