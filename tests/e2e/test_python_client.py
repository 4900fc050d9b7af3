"""The official Python client: list, watch with bookmarks, patch, the dynamic client."""

import threading

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def api(plane):
    return config.new_client_from_config(config_file=plane.kubeconfig)


def test_list_and_create(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py1", labels={"k": "v"}), data={"a": "b"}))
    items = core.list_namespaced_config_map(namespace, label_selector="k=v").items
    assert [i.metadata.name for i in items] == ["py1"]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py1")))
    assert err.value.status == 409


def test_pagination(api, namespace):
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"p{i}")))
    seen, token = [], None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items if i.metadata.name != "kube-root-ca.crt"]
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)]


def test_watch_with_bookmarks(api, namespace):
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    events = []

    def produce():
        for i in range(3):
            core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w{i}")))
        core.delete_namespaced_config_map("w0", namespace)

    threading.Timer(0.5, produce).start()
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, namespace, resource_version=start,
                          allow_watch_bookmarks=True, timeout_seconds=10):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 4:
            w.stop()
    assert events == [("ADDED", "w0"), ("ADDED", "w1"), ("ADDED", "w2"), ("DELETED", "w0")]


def test_patch_and_dynamic_client(api, namespace):
    apps = client.AppsV1Api(api)
    body = {"metadata": {"name": "dyn"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    apps.create_namespaced_deployment(namespace, body)
    apps.patch_namespaced_deployment("dyn", namespace, {"spec": {"replicas": 3}})
    dyn = dynamic.DynamicClient(api)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    got = deployments.get(name="dyn", namespace=namespace)
    assert got.spec.replicas == 3
    assert got.metadata.generation == 2


def test_errors_are_statuses(api, namespace):
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("missing", namespace)
    assert err.value.status == 404
    assert '"reason":"NotFound"' in err.value.body.replace(" ", "")
