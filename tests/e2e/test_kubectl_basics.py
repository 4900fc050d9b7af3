"""kubectl (1.32 and 1.33, picked by the dispatcher from /version) against a real control plane."""

import json
import subprocess
import textwrap

import pytest
import yaml


# Every namespace holds the kube-root-ca.crt ConfigMap; listings of what a test made skip it.
NOT_ROOT_CA = "--field-selector=metadata.name!=kube-root-ca.crt"


def test_version_selects_kubectl_minor(plane):
    out = json.loads(plane.kubectl("version", "-o", "json"))
    assert out["serverVersion"]["minor"] == plane.version.split(".")[1]
    assert out["clientVersion"]["minor"].rstrip("+") == plane.version.split(".")[1]


def test_discovery_commands(plane):
    resources = plane.kubectl("api-resources")
    for expected in ["pods", "deployments", "customresourcedefinitions", "leases", "endpointslices"]:
        assert expected in resources
    assert "po " in plane.kubectl("api-resources", "--api-group=")
    versions = plane.kubectl("api-versions").split()
    for expected in ["v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1"]:
        assert expected in versions
    assert "is running at" in plane.kubectl("cluster-info")


def test_system_namespaces_exist(plane):
    names = plane.kubectl("get", "namespaces", "-o", "name").split()
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"]:
        assert f"namespace/{ns}" in names


MANIFEST = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer, minimum: 1, default: 3}
                  replicas: {type: integer}
                  color: {type: string, enum: [red, blue]}
              status:
                type: object
                properties:
                  replicas: {type: integer}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, labels: {app: web}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: busybox:1.36
            ports: [{containerPort: 8080}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      selector: {app: web}
      ports: [{port: 80, targetPort: 8080}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {mode: fast}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds}
    stringData: {password: hunter2}
    """)

WIDGET = textwrap.dedent("""\
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w1}
    spec: {color: red}
    """)


def test_apply_multi_document_and_custom_resource(plane, namespace):
    out = plane.kubectl("apply", "-n", namespace, "-f", "-", input=MANIFEST)
    for expected in ["customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
                     "deployment.apps/web created", "service/web created",
                     "configmap/settings created", "secret/creds created"]:
        assert expected in out
    plane.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
    plane.kubectl("apply", "-n", namespace, "-f", "-", input=WIDGET)
    widget = plane.kubectl_json("get", "wd", "w1", "-n", namespace)
    assert widget["spec"]["size"] == 3, "structural schema default applied"
    table = plane.kubectl("get", "widgets", "-n", namespace)
    assert "SIZE" in table and "w1" in table
    secret = plane.kubectl_json("get", "secret", "creds", "-n", namespace)
    assert secret["data"]["password"] == "aHVudGVyMg=="
    again = plane.kubectl("apply", "-n", namespace, "-f", "-", input=MANIFEST)
    assert "deployment.apps/web unchanged" in again


def test_get_output_formats(plane, namespace):
    plane.kubectl("create", "configmap", "c1", "-n", namespace, "--from-literal=a=1")
    plane.kubectl("create", "configmap", "c2", "-n", namespace, "--from-literal=a=2")
    plane.kubectl("label", "configmap", "c2", "-n", namespace, "tier=gold")
    assert plane.kubectl("get", "cm", "-n", namespace, "-o", "name", NOT_ROOT_CA).split() == ["configmap/c1", "configmap/c2"]
    wide = plane.kubectl("get", "cm", "-n", namespace, "-o", "wide")
    assert "DATA" in wide and "c1" in wide
    doc = yaml.safe_load(plane.kubectl("get", "cm", "c1", "-n", namespace, "-o", "yaml"))
    assert doc["data"] == {"a": "1"}
    assert plane.kubectl("get", "cm", "c2", "-n", namespace, "-o", "jsonpath={.metadata.labels.tier}") == "gold"
    selected = plane.kubectl("get", "cm", "-n", namespace, "-l", "tier=gold", "-o", "name").split()
    assert selected == ["configmap/c2"]
    by_field = plane.kubectl("get", "cm", "-n", namespace, "--field-selector", "metadata.name=c1", "-o", "name").split()
    assert by_field == ["configmap/c1"]
    everywhere = plane.kubectl("get", "cm", "-A")
    assert namespace in everywhere


def test_label_annotate_patch_scale_replace(plane, namespace):
    plane.kubectl("create", "deployment", "d1", "-n", namespace, "--image=busybox:1.36", "--replicas=1")
    plane.kubectl("annotate", "deployment", "d1", "-n", namespace, "note=hello")
    plane.kubectl("patch", "deployment", "d1", "-n", namespace, "-p",
                  '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","image":"busybox:1.37"}]}}}}')
    plane.kubectl("patch", "deployment", "d1", "-n", namespace, "--type=merge", "-p", '{"metadata":{"labels":{"x":"y"}}}')
    plane.kubectl("patch", "deployment", "d1", "-n", namespace, "--type=json",
                  "-p", '[{"op":"replace","path":"/spec/revisionHistoryLimit","value":5}]')
    plane.kubectl("scale", "deployment", "d1", "-n", namespace, "--replicas=4")
    d = plane.kubectl_json("get", "deployment", "d1", "-n", namespace)
    assert d["metadata"]["annotations"]["note"] == "hello"
    assert d["metadata"]["labels"]["x"] == "y"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert len(d["spec"]["template"]["spec"]["containers"]) == 1, "strategic merge by name"
    assert d["spec"]["revisionHistoryLimit"] == 5
    assert d["spec"]["replicas"] == 4
    assert d["metadata"]["generation"] >= 4
    # The deployment controller writes the object too, so a replace may lose the race with a
    # 409 Conflict; like any client, read again and retry.
    for _ in range(10):
        d = plane.kubectl_json("get", "deployment", "d1", "-n", namespace)
        d["metadata"]["labels"]["replaced"] = "yes"
        replaced = plane.kubectl("replace", "-f", "-", input=json.dumps(d), check=False)
        if replaced.returncode == 0 or "Conflict" not in replaced.stderr:
            break
    assert replaced.returncode == 0 and "replaced" in replaced.stdout, replaced.stderr
    stale = dict(d)
    stale["metadata"] = dict(d["metadata"], resourceVersion="1")
    result = plane.kubectl("replace", "-f", "-", input=json.dumps(stale), check=False)
    assert result.returncode != 0 and "Conflict" in result.stderr


def test_delete_modes(plane, namespace):
    for name in ["a", "b", "c", "d"]:
        plane.kubectl("create", "configmap", name, "-n", namespace)
    assert 'configmap "a" deleted' in plane.kubectl("delete", "configmap", "a", "-n", namespace)
    plane.kubectl("delete", "configmap", "b", "-n", namespace, "--wait=true")
    result = plane.kubectl("get", "configmap", "a", "-n", namespace, check=False)
    assert result.returncode != 0 and 'configmaps "a" not found' in result.stderr
    plane.kubectl("delete", "configmap", "-n", namespace, "--all")
    assert plane.kubectl("get", "cm", "-n", namespace, "-o", "name", NOT_ROOT_CA).strip() == ""


def test_server_side_apply_and_conflict(plane, namespace):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {owner: one}\n"
    plane.kubectl("apply", "--server-side", "--field-manager=one", "-n", namespace, "-f", "-", input=cm)
    other = cm.replace("owner: one", "owner: two")
    result = plane.kubectl("apply", "--server-side", "--field-manager=two", "-n", namespace, "-f", "-",
                           input=other, check=False)
    assert result.returncode != 0 and "conflict" in result.stderr.lower()
    plane.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=two", "-n", namespace, "-f", "-",
                  input=other)
    obj = plane.kubectl_json("get", "cm", "ssa", "-n", namespace, "--show-managed-fields")
    managers = {m["manager"] for m in obj["metadata"]["managedFields"]}
    assert "two" in managers
    assert obj["data"]["owner"] == "two"


def test_dry_run_server_writes_nothing(plane, namespace):
    out = plane.kubectl("create", "configmap", "ghost", "-n", namespace, "--dry-run=server", "-o", "name")
    assert out.strip() == "configmap/ghost"
    assert plane.kubectl("get", "cm", "ghost", "-n", namespace, check=False).returncode != 0


def test_diff_and_explain(plane, namespace):
    plane.kubectl("create", "configmap", "diffme", "-n", namespace, "--from-literal=k=v1")
    changed = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: diffme}\ndata: {k: v2}\n"
    result = plane.kubectl("diff", "-n", namespace, "-f", "-", input=changed, check=False)
    assert result.returncode == 1 and "v2" in result.stdout
    explained = plane.kubectl("explain", "deployment.spec.replicas")
    assert "replicas" in explained.lower()


def token_only_kubeconfig(plane, token):
    """A copy of the admin kubeconfig whose user has only a bearer token (no client certificate)."""
    cfg = yaml.safe_load(open(plane.kubeconfig))
    cfg["users"][0]["user"] = {"token": token}
    path = plane.data_dir / f"token-{abs(hash(token))}.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_auth_commands(plane, namespace):
    assert plane.kubectl("auth", "can-i", "create", "pods").strip() == "yes"
    assert "kubernetes-admin" in plane.kubectl("auth", "whoami")
    plane.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = plane.kubectl("create", "token", "robot", "-n", namespace).strip()
    assert token.count(".") == 2
    # The token authenticates as the service account, which RBAC grants nothing yet.
    token_kubeconfig = token_only_kubeconfig(plane, token)
    result = subprocess.run(["kubectl", "--kubeconfig", token_kubeconfig, "get", "pods", "-n", namespace],
                            capture_output=True, text=True, env=plane.env())
    assert result.returncode != 0 and "forbidden" in result.stderr.lower()
    assert f"system:serviceaccount:{namespace}:robot" in result.stderr
    assert plane.kubectl("auth", "can-i", "list", "pods", "-n", namespace,
                         f"--as=system:serviceaccount:{namespace}:robot", check=False).stdout.strip() == "no"
    plane.kubectl("create", "rolebinding", "robot-view", "-n", namespace, "--clusterrole=view",
                  f"--serviceaccount={namespace}:robot")
    assert plane.kubectl("auth", "can-i", "list", "pods", "-n", namespace,
                         f"--as=system:serviceaccount:{namespace}:robot").strip() == "yes"
    assert plane.kubectl("get", "pods", "-n", namespace, f"--as=system:serviceaccount:{namespace}:robot",
                         check=False).returncode == 0
    forbidden = plane.kubectl("get", "secrets", "-n", namespace, f"--as=system:serviceaccount:{namespace}:robot",
                              check=False)
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()


def test_unauthenticated_requests_are_refused(plane):
    import ssl
    import urllib.request
    import urllib.error
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(plane.url + "/api/v1/namespaces", context=ctx)
    assert err.value.code == 401
    status = json.loads(err.value.read())
    assert status["kind"] == "Status" and status["reason"] == "Unauthorized"
    assert urllib.request.urlopen(plane.url + "/healthz", context=ctx).read() == b"ok"
    version = json.loads(urllib.request.urlopen(plane.url + "/version", context=ctx).read())
    assert version["major"] == "1"
