"""kubectl against a real control plane: watches, describe, edit round trips, cascading deletes,
namespaces, restarts on the same data directory, and the etcd store."""

import json
import shutil
import subprocess
import time

import pytest
import yaml


def test_get_watch_streams_changes(plane, namespace):
    plane.kubectl("create", "configmap", "watched", "-n", namespace)
    watcher = subprocess.Popen(
        ["kubectl", "get", "configmaps", "-n", namespace, "-w", "-o", "name",
         "--field-selector=metadata.name!=kube-root-ca.crt"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=plane.env())
    try:
        assert watcher.stdout.readline().strip() == "configmap/watched"
        plane.kubectl("create", "configmap", "later", "-n", namespace)
        assert watcher.stdout.readline().strip() == "configmap/later"
    finally:
        watcher.kill()
        watcher.wait()


def test_describe_shows_fields_and_events(plane, namespace):
    plane.kubectl("create", "deployment", "described", "-n", namespace, "--image=busybox:1.36")
    out = plane.kubectl("describe", "deployment", "described", "-n", namespace)
    assert "Name:" in out and "described" in out and "busybox:1.36" in out
    assert "Replicas:" in out
    ns = plane.kubectl("describe", "namespace", namespace)
    assert "Status:" in ns and "Active" in ns


def test_edit_style_round_trip(plane, namespace):
    """What `kubectl edit` does: get the YAML, change it, put it back with its resourceVersion."""
    plane.kubectl("create", "configmap", "edited", "-n", namespace, "--from-literal=k=v1")
    doc = yaml.safe_load(plane.kubectl("get", "cm", "edited", "-n", namespace, "-o", "yaml"))
    doc["data"]["k"] = "v2"
    out = plane.kubectl("replace", "-f", "-", input=yaml.safe_dump(doc))
    assert "configmap/edited replaced" in out
    editor = plane.env(KUBE_EDITOR="sed -i s/v2/v3/")
    result = subprocess.run(["kubectl", "edit", "cm", "edited", "-n", namespace], capture_output=True,
                            text=True, env=editor, timeout=60)
    assert result.returncode == 0, result.stderr
    assert plane.kubectl_json("get", "cm", "edited", "-n", namespace)["data"]["k"] == "v3"


def owned_config_map(plane, namespace, owner_name, name):
    owner = plane.kubectl_json("get", "cm", owner_name, "-n", namespace)
    child = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner_name,
            "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]},
    }
    plane.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(child))


def wait_until(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def exists(plane, namespace, kind, name):
    return plane.kubectl("get", kind, name, "-n", namespace, check=False).returncode == 0


def test_cascading_deletes(plane, namespace):
    for owner, child in [("bg", "bg-child"), ("fg", "fg-child"), ("orphaner", "orphan")]:
        plane.kubectl("create", "configmap", owner, "-n", namespace)
        owned_config_map(plane, namespace, owner, child)
    plane.kubectl("delete", "cm", "bg", "-n", namespace)
    assert wait_until(lambda: not exists(plane, namespace, "cm", "bg-child")), "background GC"
    plane.kubectl("delete", "cm", "fg", "-n", namespace, "--cascade=foreground", "--wait=true", timeout=60)
    assert not exists(plane, namespace, "cm", "fg-child"), "foreground deletion removes dependents first"
    plane.kubectl("delete", "cm", "orphaner", "-n", namespace, "--cascade=orphan")
    assert wait_until(lambda: not exists(plane, namespace, "cm", "orphaner"))
    orphan = plane.kubectl_json("get", "cm", "orphan", "-n", namespace)
    assert not orphan["metadata"].get("ownerReferences"), "orphaned dependents lose their ownerReference"


def test_namespace_lifecycle(plane):
    plane.kubectl("create", "namespace", "doomed")
    plane.kubectl("create", "configmap", "inside", "-n", "doomed")
    missing = plane.kubectl("create", "configmap", "x", "-n", "no-such-namespace", check=False)
    assert missing.returncode != 0 and 'namespaces "no-such-namespace" not found' in missing.stderr
    plane.kubectl("delete", "namespace", "doomed", "--wait=false")
    phase = plane.kubectl_json("get", "namespace", "doomed")["status"]["phase"] if exists(
        plane, "default", "namespace", "doomed") else "Gone"
    assert phase in ("Terminating", "Gone")
    assert wait_until(lambda: not exists(plane, "default", "namespace", "doomed")), "namespace emptied and removed"


def test_restart_keeps_data_and_credentials(fresh_plane):
    cp = fresh_plane("1.33")
    cp.kubectl("create", "configmap", "durable", "-n", "default", "--from-literal=k=v")
    before = cp.kubectl_json("get", "cm", "durable", "-n", "default")
    kubeconfig = open(cp.kubeconfig).read()
    cp.stop()
    cp.start()
    assert open(cp.kubeconfig).read() == kubeconfig, "same CA and admin credentials after a restart"
    after = cp.kubectl_json("get", "cm", "durable", "-n", "default")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["data"] == {"k": "v"}


def test_kill_nine_loses_no_acknowledged_write(fresh_plane):
    import signal
    cp = fresh_plane("1.33")
    for i in range(20):
        cp.kubectl("create", "configmap", f"acked-{i}", "-n", "default")
    cp.stop(sig=signal.SIGKILL)
    cp.start()
    names = cp.kubectl("get", "cm", "-n", "default", "-o", "name").split()
    assert all(f"configmap/acked-{i}" in names for i in range(20))


@pytest.fixture
def etcd_server(tmp_path):
    """A private etcd on free loopback ports, stopped and removed at the end."""
    from conftest import free_port
    binary = shutil.which("etcd")
    assert binary, "etcd is not installed (scripts/setup.sh installs Debian's etcd-server)"
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    proc = subprocess.Popen([
        binary, "--data-dir", str(tmp_path / "etcd"), "--listen-client-urls", url,
        "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"default=http://127.0.0.1:{peer}",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield url
    proc.terminate()
    proc.wait(timeout=15)


def test_control_plane_on_etcd(fresh_plane, etcd_server):
    cp = fresh_plane("1.33", store="etcd", extra_args=["--etcd-endpoints", etcd_server])
    cp.kubectl("create", "configmap", "in-etcd", "-n", "default", "--from-literal=k=v")
    cp.stop()
    cp.start()
    assert cp.kubectl_json("get", "cm", "in-etcd", "-n", "default")["data"] == {"k": "v"}
