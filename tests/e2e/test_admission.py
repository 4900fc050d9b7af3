"""Admission as upstream's default plugins do it, seen through kubectl: service IPs and node
ports, the service-account token volume, default tolerations and pod priority."""

import ipaddress
import json
import subprocess

import pytest


def apply(plane, namespace, manifest, check=True):
    return plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=check)


def service(name, kind="ClusterIP", node_port=None):
    port = {"port": 80, "targetPort": 8080}
    if node_port:
        port["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": name}, "ports": [port]}}


def test_services_get_cluster_ips_and_node_ports(plane, namespace):
    plane.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", namespace)
    web = plane.kubectl_json("get", "service", "web", "-n", namespace)
    ip = ipaddress.ip_address(web["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12") and str(ip) != "10.96.0.1"
    assert web["spec"]["clusterIPs"] == [str(ip)]

    plane.kubectl("create", "service", "clusterip", "headless", "--clusterip=None", "-n", namespace)
    assert plane.kubectl_json("get", "service", "headless", "-n", namespace)["spec"]["clusterIP"] == "None"

    apply(plane, namespace, service("np", "NodePort"))
    node_port = plane.kubectl_json("get", "service", "np", "-n", namespace)["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767

    # A taken port or address is refused with 422 naming the field, and nothing is stored.
    taken = apply(plane, namespace, service("np2", "NodePort", node_port), check=False)
    assert taken.returncode != 0 and "provided port is already allocated" in taken.stderr
    assert "spec.ports[0].nodePort" in taken.stderr
    clash = plane.kubectl("create", "service", "clusterip", "clash", f"--clusterip={ip}", "--tcp=80",
                          "-n", namespace, check=False)
    assert clash.returncode != 0 and "provided IP is already allocated" in clash.stderr
    assert plane.kubectl("get", "service", "np2", "clash", "-n", namespace, check=False).returncode != 0

    # Deleting a Service frees its port and address for the next one.
    plane.kubectl("delete", "service", "np", "web", "-n", namespace)
    apply(plane, namespace, service("np2", "NodePort", node_port))
    plane.kubectl("create", "service", "clusterip", "clash", f"--clusterip={ip}", "--tcp=80", "-n", namespace)


def test_pods_get_token_volume_tolerations_and_priority(plane, namespace):
    plane.kubectl("run", "plain", "--image=busybox:1.36", "-n", namespace)
    pod = plane.kubectl_json("get", "pod", "plain", "-n", namespace)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    volume = next(v for v in spec["volumes"] if v["name"].startswith("kube-api-access-"))
    sources = volume["projected"]["sources"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    mounts = spec["containers"][0]["volumeMounts"]
    assert {"name": volume["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "readOnly": True} in mounts
    tolerations = {t["key"]: t for t in spec["tolerations"]}
    assert tolerations["node.kubernetes.io/not-ready"]["tolerationSeconds"] == 300
    assert tolerations["node.kubernetes.io/unreachable"]["effect"] == "NoExecute"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"

    critical = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "critical"},
                "spec": {"priorityClassName": "system-cluster-critical",
                         "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    apply(plane, namespace, critical)
    assert plane.kubectl_json("get", "pod", "critical", "-n", namespace)["spec"]["priority"] == 2000000000

    unknown = dict(critical, metadata={"name": "unknown"}, spec=dict(critical["spec"], priorityClassName="nope"))
    refused = apply(plane, namespace, unknown, check=False)
    assert refused.returncode != 0
    assert 'pods "unknown" is forbidden: no PriorityClass with name nope was found' in refused.stderr

    missing_sa = dict(critical, metadata={"name": "nosa"},
                      spec=dict(critical["spec"], serviceAccountName="ghost", priorityClassName=None))
    refused = apply(plane, namespace, missing_sa, check=False)
    assert refused.returncode != 0
    assert f'error looking up service account {namespace}/ghost: serviceaccount "ghost" not found' in refused.stderr


def test_limit_ranges_default_and_bound_containers(plane, namespace):
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bounds"},
              "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
                                   "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}}]}}
    apply(plane, namespace, limits)
    plane.kubectl("run", "defaulted", "--image=busybox:1.36", "-n", namespace)
    pod = plane.kubectl_json("get", "pod", "defaulted", "-n", namespace)
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "500m", "memory": "128Mi"}
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"].startswith("LimitRanger plugin set: ")

    greedy = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy"},
              "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                       "resources": {"limits": {"cpu": "2"}}}]}}
    refused = apply(plane, namespace, greedy, check=False)
    assert refused.returncode != 0
    assert 'pods "greedy" is forbidden: [maximum cpu usage per Container is 1, but limit is 2]' in refused.stderr


def test_resource_quota_is_charged_and_enforced(plane, namespace):
    plane.kubectl("create", "quota", "compute", "--hard=pods=2,requests.cpu=1", "-n", namespace)
    # The resource-quota controller fills in status.hard and status.used first.
    plane.wait_for(lambda: plane.kubectl_json("get", "quota", "compute", "-n", namespace)
                   .get("status", {}).get("used", {}).get("pods") == "0", "quota status")

    def pod(name, cpu):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                         "resources": {"requests": {"cpu": cpu}}}]}}

    apply(plane, namespace, pod("first", "600m"))
    used = plane.kubectl_json("get", "quota", "compute", "-n", namespace)["status"]["used"]
    assert used["pods"] == "1" and used["requests.cpu"] == "600m"
    refused = apply(plane, namespace, pod("second", "600m"), check=False)
    assert refused.returncode != 0
    assert ("exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, "
            "limited: requests.cpu=1") in refused.stderr
    no_request = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    refused = apply(plane, namespace, no_request, check=False)
    assert refused.returncode != 0 and "failed quota: compute: must specify requests.cpu" in refused.stderr
    apply(plane, namespace, pod("small", "400m"))
