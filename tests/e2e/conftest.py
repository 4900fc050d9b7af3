"""Fixtures that start real Keelson control planes for the end-to-end suite.

Every control plane runs in its own temporary data directory on a free loopback port and is
stopped (SIGTERM, then SIGKILL) when its fixture ends. Nothing is started by hand.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def keelson_bin() -> str:
    explicit = os.environ.get("KEELSON_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(Path(target) / "debug" / "keelson")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlane:
    """A `keelson control-plane` process and the kubectl environment to reach it."""

    def __init__(self, version: str, store: str = "embedded", extra_args=(), data_dir=None):
        self.version = version
        self.store = store
        self.extra_args = list(extra_args)
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="keelson-e2e-"))
        self.port = free_port()
        self.proc = None
        # kubectl caches discovery and OpenAPI under $HOME/.kube: keep each plane's apart.
        self.home = Path(tempfile.mkdtemp(prefix="keelson-home-"))
        self.log_path = self.data_dir / "control-plane.log"

    @property
    def kubeconfig(self) -> str:
        return str(self.data_dir / "admin.kubeconfig")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self):
        args = [
            keelson_bin(), "control-plane", "--data-dir", str(self.data_dir),
            "--listen", f"127.0.0.1:{self.port}", "--kubernetes-version", self.version,
            "--store", self.store, *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"control plane exited early:\n{self.log_path.read_text()[-4000:]}")
            if Path(self.kubeconfig).exists():
                try:
                    self.kubectl("get", "--raw", "/readyz", timeout=5)
                    return self
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"control plane not ready in 30s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def env(self, **extra):
        env = dict(os.environ)
        env.update({"KUBECONFIG": self.kubeconfig, "HOME": str(self.home)}, **extra)
        return env

    def kubectl(self, *args, input=None, check=True, timeout=60, env=None):
        """Run the machine's kubectl (the dispatcher) and return its stdout."""
        result = subprocess.run(
            ["kubectl", *args], input=input, capture_output=True, text=True,
            timeout=timeout, env=env or self.env(),
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result.stdout if check else result

    def wait_for(self, condition, what, timeout=30):
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json"))

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="session", params=["1.32", "1.33"])
def plane(request):
    """One control plane per served Kubernetes version (kubectl 1.32 and 1.33 are chosen by
    the dispatcher from /version)."""
    cp = ControlPlane(request.param).start()
    yield cp
    cp.cleanup()


@pytest.fixture
def namespace(plane, request):
    """A fresh namespace per test."""
    name = "t-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "").replace(".", "-")[:50].rstrip("-")
    plane.kubectl("create", "namespace", name)
    # As upstream's e2e framework does: pods are refused until the service-account controller
    # has created the namespace's default ServiceAccount.
    plane.wait_for(lambda: plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
                   "the default service account")
    yield name
    plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def fresh_plane():
    """A private control plane for tests that restart or break it."""
    planes = []

    def make(version="1.33", **kwargs):
        cp = ControlPlane(version, **kwargs).start()
        planes.append(cp)
        return cp

    yield make
    for cp in planes:
        cp.cleanup()
