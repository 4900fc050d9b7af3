"""Managed node groups of `keelson server`, driven with the aws CLI and boto3.

An IAM user `admin` (the account root cannot sign in to clusters, as on EKS) creates a cluster
and a node group; the nodes are simulated (`keelson sim-nodes`, one process per node) and join
the cluster through its API. kubectl checks them, a Deployment with a PodDisruptionBudget lives
through a scale-out and a scale-in, and the cluster cannot be deleted while the group exists.
"""

import json
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from aws_support import REGION, AwsServer
from test_aws_eks import EksAccount, kubectl, role, vpc

GROUP_LABEL = "eks.amazonaws.com/nodegroup"

WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.k8s.io/pause:3.10}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 3
  selector: {matchLabels: {app: web}}
"""


@pytest.fixture(scope="module")
def server():
    aws = AwsServer()
    try:
        aws.start()
        yield EksAccount(aws)
    finally:
        aws.cleanup()


@pytest.fixture(scope="module")
def cluster(server):
    server.eks_json("create-cluster", "--name", "ngs", "--role-arn", role(server), *vpc())
    server.aws("eks", "wait", "cluster-active", "--name", "ngs")
    kubeconfig = server.dir / "ngs.kubeconfig"
    server.aws("eks", "update-kubeconfig", "--name", "ngs", "--kubeconfig", str(kubeconfig))
    return server.env(KUBECONFIG=str(kubeconfig), AWS_ENDPOINT_URL_STS=server.url)


def node_role(server):
    return f"arn:aws:iam::{server.account_id}:role/eks-nodes"


def group_nodes(env, group):
    out = kubectl(env, "get", "nodes", "-l", f"{GROUP_LABEL}={group}", "-o", "json").stdout
    return json.loads(out)["items"]


def ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def wait_for(what, check, timeout=180, every=0.5):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def deployment_available(env):
    out = kubectl(env, "get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}").stdout
    return int(out or 0)


def update_and_watch(server, env, scaling, floor):
    """Changes the group's scaling, then waits for the update, checking all along that the
    PodDisruptionBudget keeps at least `floor` pods available."""
    update = server.eks_json("update-nodegroup-config", "--cluster-name", "ngs", "--nodegroup-name", "workers",
                             "--scaling-config", scaling)["update"]
    assert update["type"] == "ConfigUpdate" and update["status"] == "InProgress"
    deadline = time.time() + 300
    lowest = 99
    while True:
        lowest = min(lowest, deployment_available(env))
        described = server.eks_json("describe-update", "--name", "ngs", "--update-id", update["id"],
                                    "--nodegroup-name", "workers")["update"]
        if described["status"] != "InProgress":
            break
        assert time.time() < deadline, "the update never finished"
        time.sleep(0.3)
    assert described["status"] == "Successful", described
    assert lowest >= floor, f"only {lowest} pods were available during the update"
    return described


def test_a_node_group_scales_with_a_disruption_budget_in_place(server, cluster):
    env = cluster
    created = server.eks_json(
        "create-nodegroup", "--cluster-name", "ngs", "--nodegroup-name", "workers",
        "--scaling-config", "minSize=1,maxSize=3,desiredSize=2", "--subnets", "subnet-1", "subnet-2",
        "--node-role", node_role(server), "--instance-types", "m5.large", "--labels", "team=infra",
        "--taints", "key=spot,value=yes,effect=PREFER_NO_SCHEDULE")["nodegroup"]
    assert created["status"] == "CREATING"
    arn_prefix = f"arn:aws:eks:{REGION}:{server.account_id}:nodegroup/ngs/workers/"
    assert created["nodegroupArn"].startswith(arn_prefix)
    server.aws("eks", "wait", "nodegroup-active", "--cluster-name", "ngs", "--nodegroup-name", "workers")

    nodes = group_nodes(env, "workers")
    assert len(nodes) == 2 and all(ready(n) for n in nodes)
    for node in nodes:
        labels = node["metadata"]["labels"]
        assert labels["team"] == "infra"
        assert labels["eks.amazonaws.com/capacityType"] == "ON_DEMAND"
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert node["status"]["capacity"]["pods"] == "29"
        assert {"key": "spot", "value": "yes", "effect": "PreferNoSchedule"} in node["spec"]["taints"]
    zones = sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == [f"{REGION}a", f"{REGION}b"]

    refused = server.aws("eks", "delete-cluster", "--name", "ngs", check=False)
    assert refused.returncode != 0 and "ResourceInUseException" in refused.stderr
    assert "Cluster has nodegroups attached" in refused.stderr

    subprocess.run(["kubectl", "apply", "-f", "-"], input=WORKLOAD, text=True, env=env, check=True,
                   capture_output=True, timeout=60)
    wait_for("the deployment to be available", lambda: deployment_available(env) == 4)

    update_and_watch(server, env, "desiredSize=3", floor=4)
    nodes = wait_for("three Ready nodes",
                     lambda: [n for n in group_nodes(env, "workers") if ready(n)] if len(group_nodes(env, "workers")) == 3 else None)
    assert len(nodes) == 3

    update_and_watch(server, env, "minSize=1,desiredSize=1", floor=3)
    nodes = group_nodes(env, "workers")
    assert len(nodes) == 1 and not nodes[0]["spec"].get("unschedulable")
    survivor = nodes[0]["metadata"]["name"]
    wait_for("the deployment to be whole again", lambda: deployment_available(env) == 4)
    pods = json.loads(kubectl(env, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert {p["spec"]["nodeName"] for p in pods if not p["metadata"].get("deletionTimestamp")} == {survivor}
    group = server.eks_json("describe-nodegroup", "--cluster-name", "ngs", "--nodegroup-name", "workers")["nodegroup"]
    assert group["status"] == "ACTIVE"
    assert group["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}

    # Labels and taints reach the running node.
    server.aws("eks", "update-nodegroup-config", "--cluster-name", "ngs", "--nodegroup-name", "workers",
               "--labels", "addOrUpdateLabels={tier=web},removeLabels=team")
    server.aws("eks", "wait", "nodegroup-active", "--cluster-name", "ngs", "--nodegroup-name", "workers")
    labels = group_nodes(env, "workers")[0]["metadata"]["labels"]
    assert labels["tier"] == "web" and "team" not in labels

    kubectl(env, "delete", "deployment", "web")
    deleted = server.eks_json("delete-nodegroup", "--cluster-name", "ngs", "--nodegroup-name", "workers")["nodegroup"]
    assert deleted["status"] == "DELETING"
    server.aws("eks", "wait", "nodegroup-deleted", "--cluster-name", "ngs", "--nodegroup-name", "workers")
    assert group_nodes(env, "workers") == []
    gone = server.aws("eks", "describe-nodegroup", "--cluster-name", "ngs", "--nodegroup-name", "workers", check=False)
    assert gone.returncode != 0 and "No node group found for name: workers." in gone.stderr


def test_boto3_lists_pages_and_shapes(server, cluster):
    eks = server.boto3()
    for name in ["empty-a", "empty-b", "empty-c"]:
        eks.create_nodegroup(clusterName="ngs", nodegroupName=name, subnets=["subnet-1"],
                             nodeRole=node_role(server),
                             scalingConfig={"minSize": 0, "maxSize": 1, "desiredSize": 0})
    seen = []
    for page in eks.get_paginator("list_nodegroups").paginate(clusterName="ngs", PaginationConfig={"PageSize": 2}):
        assert len(page["nodegroups"]) <= 2
        seen += page["nodegroups"]
    assert seen == ["empty-a", "empty-b", "empty-c"]
    eks.get_waiter("nodegroup_active").wait(clusterName="ngs", nodegroupName="empty-a",
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    group = eks.describe_nodegroup(clusterName="ngs", nodegroupName="empty-a")["nodegroup"]
    assert group["instanceTypes"] == ["t3.medium"] and group["capacityType"] == "ON_DEMAND"
    eks.tag_resource(resourceArn=group["nodegroupArn"], tags={"env": "test"})
    assert eks.list_tags_for_resource(resourceArn=group["nodegroupArn"])["tags"] == {"env": "test"}
    cluster_arn = eks.describe_cluster(name="ngs")["cluster"]["arn"]
    assert "env" not in eks.list_tags_for_resource(resourceArn=cluster_arn)["tags"]
    update = eks.update_nodegroup_config(clusterName="ngs", nodegroupName="empty-a",
                                         taints={"addOrUpdateTaints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]},
                                         clientRequestToken="tok-1")["update"]
    again = eks.update_nodegroup_config(clusterName="ngs", nodegroupName="empty-a",
                                        taints={"addOrUpdateTaints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]},
                                        clientRequestToken="tok-1")["update"]
    assert again["id"] == update["id"]
    described = eks.describe_update(name="ngs", updateId=update["id"], nodegroupName="empty-a")["update"]
    assert described["type"] == "ConfigUpdate"
    params = {p["type"]: json.loads(p["value"]) for p in described["params"]}
    assert params == {"TaintsToAdd": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]}
    assert eks.list_updates(name="ngs", nodegroupName="empty-a")["updateIds"] == [update["id"]]
    for name in ["empty-a", "empty-b", "empty-c"]:
        eks.delete_nodegroup(clusterName="ngs", nodegroupName=name)
    for name in ["empty-a", "empty-b", "empty-c"]:
        eks.get_waiter("nodegroup_deleted").wait(clusterName="ngs", nodegroupName=name,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert {"DescribeNodegroup", "ListNodegroups", "CreateNodegroup", "UpdateNodegroupConfig",
            "DeleteNodegroup", "ListUpdates", "DescribeUpdate", "TagResource"} <= set(server.checked)


@pytest.mark.parametrize("change, message", [
    ({"scalingConfig": {"minSize": 3, "maxSize": 2, "desiredSize": 2}}, "scalingConfig.minSize 3"),
    ({"scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 5}}, "scalingConfig.desiredSize 5"),
    ({"instanceTypes": ["x9.mega"]}, "instanceTypes: x9.mega"),
    ({"capacityType": "RESERVED"}, "capacityType RESERVED"),
    ({"taints": [{"key": "k", "effect": "NO_SCHEDULE"}], "labels": {"Bad Key": "v"}}, "labels: key"),
])
def test_bad_input_is_refused_naming_the_field(server, cluster, change, message):
    eks = server.boto3()
    request = {"clusterName": "ngs", "nodegroupName": "bad", "subnets": ["subnet-1"], "nodeRole": node_role(server),
               **change}
    with pytest.raises(ClientError) as error:
        eks.create_nodegroup(**request)
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_missing_and_duplicate_groups(server, cluster):
    eks = server.boto3()
    with pytest.raises(ClientError) as error:
        eks.describe_nodegroup(clusterName="ngs", nodegroupName="nope")
    assert error.value.response["Error"]["Message"] == "No node group found for name: nope."
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as error:
        eks.update_nodegroup_config(clusterName="ngs", nodegroupName="nope", scalingConfig={"desiredSize": 1})
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    request = {"clusterName": "ngs", "nodegroupName": "dup", "subnets": ["subnet-1"], "nodeRole": node_role(server),
               "scalingConfig": {"minSize": 0, "maxSize": 1, "desiredSize": 0}}
    first = eks.create_nodegroup(**request, clientRequestToken="create-dup")["nodegroup"]
    # A retry with the same token is answered as the first call was.
    assert eks.create_nodegroup(**request, clientRequestToken="create-dup")["nodegroup"] == first
    with pytest.raises(ClientError) as error:
        eks.create_nodegroup(**request)
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"
    assert error.value.response["Error"]["Message"] == "NodeGroup already exists with name dup and cluster name ngs"
    eks.delete_nodegroup(clusterName="ngs", nodegroupName="dup")
    eks.get_waiter("nodegroup_deleted").wait(clusterName="ngs", nodegroupName="dup",
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    eks.delete_cluster(name="ngs")
    eks.get_waiter("cluster_deleted").wait(name="ngs", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
