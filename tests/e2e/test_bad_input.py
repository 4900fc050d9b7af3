"""Bad input gets a metav1.Status with upstream's code and reason, and nothing is written."""

import json
import ssl
import urllib.error
import urllib.request

import pytest
import yaml


class Raw:
    """Speak HTTPS to the API server with the admin client certificate."""

    def __init__(self, plane):
        cfg = yaml.safe_load(open(plane.kubeconfig))
        import base64
        import tempfile
        user = cfg["users"][0]["user"]
        cluster = cfg["clusters"][0]["cluster"]
        self.dir = tempfile.mkdtemp()
        paths = {}
        for name, key in [("ca", cluster["certificate-authority-data"]),
                          ("cert", user["client-certificate-data"]), ("key", user["client-key-data"])]:
            paths[name] = f"{self.dir}/{name}.pem"
            open(paths[name], "wb").write(base64.b64decode(key))
        self.ctx = ssl.create_default_context(cafile=paths["ca"])
        self.ctx.load_cert_chain(paths["cert"], paths["key"])
        self.base = cluster["server"]

    def request(self, method, path, body=None, content_type="application/json"):
        data = body if isinstance(body, bytes) or body is None else body.encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=self.ctx) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


@pytest.fixture
def raw(plane):
    return Raw(plane)


def assert_status(result, code, reason):
    status, body = result
    assert status == code, body
    assert body["kind"] == "Status" and body["reason"] == reason and body["code"] == code, body


def cm_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def user_config_maps(raw, namespace):
    """ConfigMaps in the namespace other than the kube-root-ca.crt every namespace gets."""
    items = raw.request("GET", cm_path(namespace))[1]["items"]
    return [cm["metadata"]["name"] for cm in items if cm["metadata"]["name"] != "kube-root-ca.crt"]


def test_malformed_bodies(raw, namespace):
    assert_status(raw.request("POST", cm_path(namespace), "{not json"), 400, "BadRequest")
    assert_status(raw.request("POST", cm_path(namespace), "a: [", "application/yaml"), 400, "BadRequest")
    assert_status(raw.request("POST", cm_path(namespace), b"k8s\x00\x0a\xff\xff", "application/vnd.kubernetes.protobuf"),
                  400, "BadRequest")
    assert_status(raw.request("POST", cm_path(namespace), "{}", "text/plain"), 415, "UnsupportedMediaType")
    assert user_config_maps(raw, namespace) == [], "a refused write must store nothing"


def test_invalid_object_lists_causes(raw, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
           "spec": {"containers": [{"name": "c"}]}}
    status, body = raw.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod))
    assert status == 422 and body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert "metadata.name" in fields and "spec.containers[0].image" in fields


def test_strict_unknown_fields(raw, namespace):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict"}, "bogus": 1}
    status, body = raw.request("POST", cm_path(namespace) + "?fieldValidation=Strict", json.dumps(cm))
    assert status == 400 and 'unknown field "bogus"' in body["message"]
    assert raw.request("GET", cm_path(namespace, "strict"))[0] == 404


def test_too_large_conflict_duplicate_missing(raw, namespace):
    huge = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"}, "data": {"x": "a" * (3 * 1024 * 1024 + 10)}}
    assert_status(raw.request("POST", cm_path(namespace), json.dumps(huge)), 413, "RequestEntityTooLarge")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}}
    assert raw.request("POST", cm_path(namespace), json.dumps(cm))[0] == 201
    assert_status(raw.request("POST", cm_path(namespace), json.dumps(cm)), 409, "AlreadyExists")
    stale = dict(cm, metadata={"name": "dup", "resourceVersion": "1"}, data={"a": "b"})
    assert_status(raw.request("PUT", cm_path(namespace, "dup"), json.dumps(stale)), 409, "Conflict")
    status, body = raw.request("GET", cm_path(namespace, "nope"))
    assert status == 404 and body["details"] == {"name": "nope", "kind": "configmaps"}
    assert raw.request("GET", cm_path(namespace, "dup"))[1].get("data") is None
