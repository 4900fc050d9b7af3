"""Issue 3 through kubectl: workloads reconcile and pods are placed on simulated nodes as on
any Kubernetes cluster."""

import json
import subprocess

import pytest

from workloads_support import Cluster, apply, eventually, pods, running


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.close()


@pytest.fixture
def ns(cluster, request):
    plane = cluster.plane
    name = "w-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40].rstrip("-")
    plane.kubectl("create", "namespace", name)
    plane.wait_for(lambda: plane.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
                   "the default service account")
    yield name
    plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_deployment_rollout_history_undo_and_scale(cluster, ns):
    k = cluster.plane.kubectl
    k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    k("set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    history = k("rollout", "history", "deployment/web", "-n", ns)
    assert "REVISION" in history and "1" in history and "2" in history
    k("rollout", "undo", "deployment/web", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    deployment = cluster.plane.kubectl_json("get", "deployment", "web", "-n", ns)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    eventually(cluster.plane, lambda: {p["spec"]["containers"][0]["image"] for p in running(cluster.plane, ns)}
               == {"nginx:1.25"} and len(running(cluster.plane, ns)) == 3, "only the undone revision's pods")

    k("scale", "deployment/web", "--replicas=5", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s", timeout=90)
    assert len(running(cluster.plane, ns)) == 5
    k("scale", "deployment/web", "--replicas=1", "-n", ns)
    eventually(cluster.plane, lambda: len(pods(cluster.plane, ns)) == 1, "scaled down to one pod")
    wide = k("get", "rs,pods", "-o", "wide", "-n", ns)
    assert "replicaset.apps/web-" in wide and "sim-" in wide


def test_jobs_complete_or_hit_backoff_limit(cluster, ns):
    k = cluster.plane.kubectl
    k("create", "job", "ok", "--image=busybox:1.36", "-n", ns, "--", "true")
    k("wait", "--for=condition=complete", "job/ok", "-n", ns, "--timeout=60s", timeout=90)
    failing = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "failing"},
               "spec": {"backoffLimit": 1, "template": {
                   "metadata": {"annotations": {"sim.keelson.dev/exit-code": "1"}},
                   "spec": {"restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["false"]}]}}}}
    apply(cluster.plane, ns, failing)
    k("wait", "--for=condition=failed", "job/failing", "-n", ns, "--timeout=120s", timeout=150)
    job = cluster.plane.kubectl_json("get", "job", "failing", "-n", ns)
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2


def test_cronjob_fires(cluster, ns):
    k = cluster.plane.kubectl
    k("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=* * * * *", "-n", ns, "--", "true")
    jobs = eventually(cluster.plane, lambda: json.loads(k("get", "jobs", "-n", ns, "-o", "json"))["items"],
                      "a job from the cronjob", timeout=75)
    assert jobs[0]["metadata"]["name"].startswith("tick-")
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    eventually(cluster.plane, lambda: cluster.plane.kubectl_json("get", "cronjob", "tick", "-n", ns)
               .get("status", {}).get("lastScheduleTime"), "lastScheduleTime")


def daemon_set(name):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}


def test_daemonset_covers_every_node_including_a_later_one(cluster, ns):
    plane = cluster.plane
    apply(plane, ns, daemon_set("agent"))
    plane.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s", timeout=90)
    nodes = {n["metadata"]["name"] for n in plane.kubectl_json("get", "nodes")["items"]
             if not any(t.get("effect") == "NoSchedule" for t in n.get("spec", {}).get("taints", []))}
    on = lambda: sorted(p["spec"].get("nodeName") for p in running(plane, ns, "app=agent"))
    eventually(plane, lambda: on() == sorted(nodes), "one pod per node")
    ds = plane.kubectl_json("get", "daemonset", "agent", "-n", ns)
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    assert {p["metadata"]["labels"].get("pod-template-generation") for p in running(plane, ns, "app=agent")} == {"1"}
    late = cluster.add_nodes(1, prefix="late-")
    eventually(plane, lambda: late.names[0] in on(), "a pod on the node added later")
    assert len(on()) == len(set(on()))


def test_statefulset_creates_pods_in_order(cluster, ns):
    plane = cluster.plane
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"serviceName": "db", "replicas": 3, "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    apply(plane, ns, sts)
    plane.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=90s", timeout=120)
    created = sorted(pods(plane, ns, "app=db"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in created] == ["db-0", "db-1", "db-2"]
    # OrderedReady: each pod was created only after its predecessor was Ready.
    for earlier, later in zip(created, created[1:]):
        ready_at = next(c["lastTransitionTime"] for c in earlier["status"]["conditions"] if c["type"] == "Ready")
        assert later["metadata"]["creationTimestamp"] >= ready_at


def test_drain_respects_a_pod_disruption_budget(cluster, ns):
    plane = cluster.plane
    extra = cluster.add_nodes(1, prefix="drain-")
    node = extra.names[0]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "guarded"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "guarded"}},
                           "template": {"metadata": {"labels": {"app": "guarded"}},
                                        "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                                                 "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "guard"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}
    apply(plane, ns, deployment, pdb)
    plane.kubectl("rollout", "status", "deployment/guarded", "-n", ns, "--timeout=60s", timeout=90)
    eventually(plane, lambda: plane.kubectl_json("get", "pdb", "guard", "-n", ns)["status"].get("currentHealthy") == 1,
               "the budget sees the pod")
    drain = plane.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5s",
                          check=False, timeout=60)
    assert drain.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget" in drain.stderr + drain.stdout
    assert len(running(plane, ns, "app=guarded")) == 1
    plane.kubectl("patch", "pdb", "guard", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":0}}')
    drained = plane.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s",
                            timeout=90, check=False)
    assert drained.returncode == 0, drained.stderr + drained.stdout
    assert plane.kubectl_json("get", "node", node)["spec"].get("unschedulable") is True


def test_pods_of_a_failed_node_are_rescheduled(cluster, ns):
    plane = cluster.plane
    doomed = cluster.add_nodes(1, prefix="doomed-")
    node = doomed.names[0]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mover"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "mover"}},
                           "template": {"metadata": {"labels": {"app": "mover"}}, "spec": {
                               "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                                   {"weight": 100, "preference": {"matchExpressions": [
                                       {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}}]}},
                               "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                                "effect": "NoExecute", "tolerationSeconds": 2},
                                               {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                "effect": "NoExecute", "tolerationSeconds": 2}],
                               "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    apply(plane, ns, deployment)
    eventually(plane, lambda: [p["spec"].get("nodeName") for p in running(plane, ns)] == [node],
               "the pod on the doomed node")
    doomed.kill()
    eventually(plane, lambda: any(t["key"] == "node.kubernetes.io/unreachable"
                                  for t in plane.kubectl_json("get", "node", node).get("spec", {}).get("taints", [])),
               "the unreachable taint", timeout=60)
    moved = eventually(plane, lambda: [p["spec"]["nodeName"] for p in running(plane, ns)
                                       if p["spec"].get("nodeName") != node], "the pod rescheduled", timeout=120)
    assert moved and moved[0] != node


def test_namespace_deletion_removes_everything(cluster, ns):
    plane = cluster.plane
    plane.kubectl("create", "deployment", "doomed", "--image=busybox:1.36", "--replicas=2", "-n", ns)
    plane.kubectl("create", "service", "clusterip", "doomed", "--tcp=80", "-n", ns)
    plane.kubectl("rollout", "status", "deployment/doomed", "-n", ns, "--timeout=60s", timeout=90)
    plane.kubectl("delete", "namespace", ns, "--timeout=60s", timeout=90)
    assert plane.kubectl("get", "namespace", ns, check=False).returncode != 0
    assert pods(plane, ns) == []


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_garbage_collection_modes(cluster, ns, cascade):
    plane = cluster.plane
    plane.kubectl("create", "deployment", "owned", "--image=busybox:1.36", "--replicas=2", "-n", ns)
    plane.kubectl("rollout", "status", "deployment/owned", "-n", ns, "--timeout=60s", timeout=90)
    plane.kubectl("delete", "deployment", "owned", f"--cascade={cascade}", "-n", ns, "--timeout=60s", timeout=90)
    replica_sets = lambda: plane.kubectl_json("get", "rs", "-n", ns)["items"]
    if cascade == "orphan":
        rs = eventually(plane, lambda: [r for r in replica_sets() if not r["metadata"].get("ownerReferences")],
                        "the orphaned replica set")
        assert len(rs) == 1 and len(running(plane, ns)) == 2
    else:
        eventually(plane, lambda: replica_sets() == [] and pods(plane, ns) == [], "dependents deleted")


def test_scheduling_honours_constraints(cluster, ns):
    plane = cluster.plane
    zones = {n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/zone")
             for n in plane.kubectl_json("get", "nodes")["items"]}
    sim_nodes = sorted(n for n in zones if n.startswith("sim-"))
    plane.kubectl("taint", "node", sim_nodes[0], "dedicated=special:NoSchedule", "--overwrite")
    try:
        spread = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "spread"},
                  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "spread"}},
                           "template": {"metadata": {"labels": {"app": "spread"}}, "spec": {
                               "nodeSelector": {"keelson.dev/simulated": "true"},
                               "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "special",
                                                "effect": "NoSchedule"}],
                               "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                                   "nodeSelectorTerms": [{"matchExpressions": [
                                       {"key": "kubernetes.io/hostname", "operator": "In", "values": sim_nodes}]}]}},
                                   "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                                       {"labelSelector": {"matchLabels": {"app": "spread"}},
                                        "topologyKey": "kubernetes.io/hostname"}]}},
                               "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                              "whenUnsatisfiable": "DoNotSchedule",
                                                              "labelSelector": {"matchLabels": {"app": "spread"}}}],
                               "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
        apply(plane, ns, spread)
        placed = eventually(plane, lambda: sorted(p["spec"]["nodeName"] for p in running(plane, ns, "app=spread"))
                            if len(running(plane, ns, "app=spread")) == 3 else None, "three spread pods")
        assert placed == sim_nodes  # anti-affinity: one per node, the tolerated taint is no obstacle
        assert len({zones[n] for n in placed}) == 3

        # A fourth replica fits nowhere (anti-affinity): FailedScheduling with upstream's reasons.
        plane.kubectl("scale", "deployment/spread", "--replicas=4", "-n", ns)
        pending = eventually(plane, lambda: [p["metadata"]["name"] for p in pods(plane, ns, "app=spread")
                                             if not p["spec"].get("nodeName")], "the unschedulable replica")
        described = eventually(plane, lambda: (lambda out: out if "FailedScheduling" in out else None)(
            plane.kubectl("describe", "pod", pending[0], "-n", ns)), "the FailedScheduling event")
        assert "didn't match pod anti-affinity rules" in described
        assert "nodes are available" in described

        untolerated = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "picky"},
                       "spec": {"nodeSelector": {"kubernetes.io/hostname": sim_nodes[0]},
                                "containers": [{"name": "c", "image": "busybox:1.36"}]}}
        apply(plane, ns, untolerated)
        described = eventually(plane, lambda: (lambda out: out if "FailedScheduling" in out else None)(
            plane.kubectl("describe", "pod", "picky", "-n", ns)), "FailedScheduling for the taint")
        assert "had untolerated taint {dedicated: special}" in described
    finally:
        plane.kubectl("taint", "node", sim_nodes[0], "dedicated-", check=False)
