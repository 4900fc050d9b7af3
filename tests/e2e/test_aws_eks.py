"""The EKS API of `keelson server`, driven with the unmodified aws CLI and boto3.

A real `keelson server` (IAM, STS, EKS; aws_support's AwsServer) runs on a free loopback
port; an IAM user with an allow-all policy creates clusters, which are real control planes the server supervises. kubectl
reaches them through the kubeconfig `aws eks update-kubeconfig` writes (exec plugin
`aws eks get-token`, STS pointed at the server). Every raw EKS response is checked against
botocore's service model, member by member.
"""

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import botocore
import pytest
from botocore.exceptions import ClientError

from aws_support import AWS_CLI, REGION, AwsServer, allow
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def eks_model():
    path = Path(botocore.__file__).parent / "data" / "eks" / "2017-11-01" / "service-2.json.gz"
    with gzip.open(path) as f:
        return json.load(f)


MODEL = eks_model()


def check_shape(value, shape_name, where):
    """Fails unless `value` (raw JSON) fits the model's shape: known members only, right types,
    timestamps as numbers, no nulls."""
    shape = MODEL["shapes"][shape_name]
    kind = shape["type"]
    assert value is not None, f"{where}: null (absent members must be omitted)"
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for key, member in value.items():
            assert key in shape["members"], f"{where}: {key!r} is not a member of {shape_name}"
            check_shape(member, shape["members"][key]["shape"], f"{where}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            check_shape(item, shape["member"]["shape"], f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{where}: expected a map"
        for key, item in value.items():
            check_shape(item, shape["value"]["shape"], f"{where}[{key!r}]")
    elif kind == "timestamp":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), \
            f"{where}: timestamps are epoch seconds, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected an integer"
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string"
        if "enum" in shape:
            assert value in shape["enum"], f"{where}: {value!r} is not one of {shape['enum']}"


class EksAccount:
    """A `keelson server` (aws_support's AwsServer) with an IAM user `admin` allowed
    everything, through whose keys the tests call EKS; raw EKS responses of its boto3 clients
    are shape-checked."""

    def __init__(self, server: AwsServer):
        self.server = server
        self.url = server.url
        self.dir = server.dir
        self.account_id = server.account_id
        self.admin_keys = server.create_user_with_key("admin", allow("*"))
        self.admin_arn = f"arn:aws:iam::{self.account_id}:user/admin"
        self.checked = []

    def env(self, keys=None, **extra):
        env = self.server.env(keys or self.admin_keys, **extra)
        env.pop("KUBECONFIG", None)
        env.update(extra)
        # update-kubeconfig's exec plugin runs plain `aws`: the test virtualenv's.
        env["PATH"] = str(Path(AWS_CLI).parent) + os.pathsep + env.get("PATH", "")
        return env

    def aws(self, *args, keys=None, root=False, **kwargs):
        if root:
            return self.server.aws(*args, **kwargs)
        return self.server.aws(*args, keys=keys or self.admin_keys, **kwargs)

    def eks_json(self, *args, **kwargs):
        return json.loads(self.aws("eks", *args, **kwargs).stdout or "{}")

    def boto3(self, keys=None):
        client = self.server.client("eks", keys or self.admin_keys)
        client.meta.events.register("response-received.eks", self.check_raw)
        return client

    def check_raw(self, response_dict=None, **kwargs):
        """Every successful raw response fits its operation's output shape."""
        if response_dict is None or response_dict["status_code"] != 200:
            return
        operation = kwargs["event_name"].split(".")[-1]
        output = MODEL["operations"][operation].get("output")
        if output:
            check_shape(json.loads(response_dict["body"] or b"{}"), output["shape"], operation)
            self.checked.append(operation)


@pytest.fixture(scope="module")
def server():
    aws = AwsServer()
    try:
        aws.start()
        yield EksAccount(aws)
    finally:
        aws.cleanup()


def vpc():
    return ["--resources-vpc-config", "subnetIds=subnet-1,subnet-2"]


def role(server):
    return f"arn:aws:iam::{server.account_id}:role/eks-cluster"


def kubectl(env, *args, check=True):
    result = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


def wait_update(server, name, update_id, timeout=120):
    deadline = time.time() + timeout
    while True:
        update = server.eks_json("describe-update", "--name", name, "--update-id", update_id)["update"]
        if update["status"] != "InProgress" or time.time() > deadline:
            return update
        time.sleep(0.2)


def test_a_cluster_from_create_to_delete_with_the_aws_cli(server):
    created = server.eks_json("create-cluster", "--name", "e2e", "--kubernetes-version", "1.32",
                              "--role-arn", role(server), *vpc(), "--tags", "team=infra")["cluster"]
    assert created["status"] == "CREATING"
    assert created["arn"] == f"arn:aws:eks:{REGION}:{server.account_id}:cluster/e2e"
    server.aws("eks", "wait", "cluster-active", "--name", "e2e")
    cluster = server.eks_json("describe-cluster", "--name", "e2e")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"].startswith("https://127.0.0.1:")
    assert cluster["certificateAuthority"]["data"]
    assert cluster["version"] == "1.32"
    assert cluster["tags"] == {"team": "infra"}
    assert cluster["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True
    assert cluster["identity"]["oidc"]["issuer"].startswith(server.url + "/oidc/id/")

    # update-kubeconfig, then kubectl as the creator through `aws eks get-token`.
    kubeconfig = server.dir / "kubeconfig"
    server.aws("eks", "update-kubeconfig", "--name", "e2e", "--kubeconfig", str(kubeconfig))
    env = server.env(KUBECONFIG=str(kubeconfig), AWS_ENDPOINT_URL_STS=server.url)
    whoami = json.loads(kubectl(env, "auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["extra"]["arn"] == [server.admin_arn]
    kubectl(env, "create", "configmap", "kept", "--from-literal=k=v")

    # The creator's entry is visible; a viewer gets an entry with a namespace-scoped policy.
    assert server.eks_json("list-access-entries", "--cluster-name", "e2e")["accessEntries"] == [server.admin_arn]
    # update-kubeconfig needs eks:DescribeCluster; what the viewer may do inside the cluster
    # is the access entry's business.
    viewer_keys = server.server.create_user_with_key("viewer", allow("eks:DescribeCluster"))
    viewer_arn = f"arn:aws:iam::{server.account_id}:user/viewer"
    entry = server.eks_json("create-access-entry", "--cluster-name", "e2e",
                            "--principal-arn", viewer_arn, "--username", "viewer")["accessEntry"]
    assert entry["type"] == "STANDARD"
    server.aws("eks", "associate-access-policy", "--cluster-name", "e2e", "--principal-arn", viewer_arn,
               "--policy-arn", VIEW_POLICY, "--access-scope", "type=namespace,namespaces=default")
    policies = server.eks_json("list-associated-access-policies", "--cluster-name", "e2e",
                               "--principal-arn", viewer_arn)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [VIEW_POLICY]
    viewer_config = server.dir / "viewer.kubeconfig"
    server.aws("eks", "update-kubeconfig", "--name", "e2e", "--kubeconfig", str(viewer_config), keys=viewer_keys)
    viewer_env = server.env(viewer_keys, KUBECONFIG=str(viewer_config), AWS_ENDPOINT_URL_STS=server.url)
    deadline = time.time() + 10
    while kubectl(viewer_env, "get", "configmap", "kept", check=False).returncode != 0:
        assert time.time() < deadline, "the viewer's entry never took effect"
        time.sleep(0.2)
    denied = kubectl(viewer_env, "create", "configmap", "nope", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()

    # Upgrade one minor version; the data stays.
    update = server.eks_json("update-cluster-version", "--name", "e2e", "--kubernetes-version", "1.33")["update"]
    assert update["type"] == "VersionUpdate" and update["status"] == "InProgress"
    assert wait_update(server, "e2e", update["id"])["status"] == "Successful"
    server.aws("eks", "wait", "cluster-active", "--name", "e2e")
    assert server.eks_json("describe-cluster", "--name", "e2e")["cluster"]["version"] == "1.33"
    assert server.eks_json("list-updates", "--name", "e2e")["updateIds"] == [update["id"]]
    version = json.loads(kubectl(env, "version", "-o", "json").stdout)["serverVersion"]
    assert version["minor"] == "33"
    assert kubectl(env, "get", "configmap", "kept", "-o", "jsonpath={.data.k}").stdout == "v"

    # Delete; the waiter sees it go.
    deleted = server.eks_json("delete-cluster", "--name", "e2e")["cluster"]
    assert deleted["status"] == "DELETING"
    server.aws("eks", "wait", "cluster-deleted", "--name", "e2e")
    gone = server.aws("eks", "describe-cluster", "--name", "e2e", check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    assert "No cluster found for name: e2e." in gone.stderr
    assert not (server.dir / "data" / "clusters" / "e2e").exists()


def test_boto3_pages_lists_and_every_response_fits_the_model(server):
    eks = server.boto3()
    names = ["page-a", "page-b", "page-c"]
    for name in names:
        eks.create_cluster(name=name, roleArn=role(server), resourcesVpcConfig={"subnetIds": ["subnet-1"]},
                           logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]})
    try:
        pages = list(eks.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}))
        assert [p["clusters"] for p in pages] == [["page-a", "page-b"], ["page-c"]]
        assert "nextToken" in pages[0] and "nextToken" not in pages[1]
        # The CLI's own pagination: --page-size per call, --max-items in total.
        first = server.eks_json("list-clusters", "--max-items", "2", "--page-size", "1")
        assert first["clusters"] == ["page-a", "page-b"] and first["NextToken"]
        rest = server.eks_json("list-clusters", "--starting-token", first["NextToken"], "--page-size", "1")
        assert rest["clusters"] == ["page-c"]

        waiter = eks.get_waiter("cluster_active")
        waiter.config.delay = 1
        waiter.wait(name="page-a")
        cluster = eks.describe_cluster(name="page-a")["cluster"]
        assert cluster["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
        assert cluster["createdAt"].year >= 2024
        versions = eks.describe_cluster_versions()["clusterVersions"]
        assert [v["clusterVersion"] for v in versions] == ["1.32", "1.33"]
        assert [v["defaultVersion"] for v in versions] == [False, True]
        assert len(eks.list_access_policies()["accessPolicies"]) == 4
        arn = cluster["arn"]
        eks.tag_resource(resourceArn=arn, tags={"env": "test", "drop": "me"})
        eks.untag_resource(resourceArn=arn, tagKeys=["drop"])
        assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}
        update = eks.update_cluster_config(
            name="page-a", resourcesVpcConfig={"publicAccessCidrs": ["203.0.113.0/24"]})["update"]
        assert update["status"] == "Successful" and update["type"] == "EndpointAccessUpdate"
        assert eks.describe_update(name="page-a", updateId=update["id"])["update"]["id"] == update["id"]
        update = eks.update_cluster_config(name="page-a", accessConfig={"authenticationMode": "API"})["update"]
        assert update["type"] == "AccessConfigUpdate"
        entries = eks.list_access_entries(clusterName="page-a")["accessEntries"]
        entry = eks.describe_access_entry(clusterName="page-a", principalArn=entries[0])["accessEntry"]
        assert entry["principalArn"] == server.admin_arn
        listed = eks.list_associated_access_policies(clusterName="page-a", principalArn=server.admin_arn)
        assert listed["associatedAccessPolicies"][0]["policyArn"] == ADMIN_POLICY
    finally:
        for name in names:
            eks.delete_cluster(name=name)
        waiter = eks.get_waiter("cluster_deleted")
        waiter.config.delay = 1
        for name in names:
            waiter.wait(name=name)
    for operation in ["CreateCluster", "ListClusters", "DescribeCluster", "DescribeClusterVersions",
                      "ListAccessPolicies", "ListTagsForResource", "UpdateClusterConfig", "DescribeUpdate",
                      "ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies",
                      "DeleteCluster"]:
        assert operation in server.checked, f"{operation} was not shape-checked"


def test_client_request_token_replays_the_first_answer(server):
    eks = server.boto3()
    first = eks.create_cluster(name="idem", roleArn=role(server), clientRequestToken="tok-1",
                               resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]
    try:
        again = eks.create_cluster(name="idem", roleArn=role(server), clientRequestToken="tok-1",
                                   resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]
        assert again == first
        with pytest.raises(ClientError) as error:
            eks.create_cluster(name="idem", roleArn=role(server), clientRequestToken="tok-2",
                               resourcesVpcConfig={"subnetIds": ["subnet-1"]})
        assert error.value.response["Error"]["Code"] == "ResourceInUseException"
        assert error.value.response["Error"]["Message"] == "Cluster already exists with name: idem"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    finally:
        eks.delete_cluster(name="idem")


@pytest.mark.parametrize("change, code, status, field", [
    ({"name": "bad.name"}, "InvalidParameterException", 400, "name"),
    ({"version": "1.29"}, "InvalidParameterException", 400, "version"),
    ({"kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/8"}}, "InvalidParameterException", 400,
     "serviceIpv4Cidr"),
    ({"resourcesVpcConfig": {"publicAccessCidrs": ["1.2.3.4/40"]}}, "InvalidParameterException", 400,
     "publicAccessCidrs"),
    ({"roleArn": "not-an-arn"}, "InvalidParameterException", 400, "roleArn"),
])
def test_bad_input_is_refused_naming_the_field(server, change, code, status, field):
    request = {"name": "bad-input", "roleArn": role(server), "resourcesVpcConfig": {"subnetIds": ["subnet-1"]}}
    request.update(change)
    with pytest.raises(ClientError) as error:
        server.boto3().create_cluster(**request)
    response = error.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert field in response["Error"]["Message"]


def test_errors_through_the_cli(server):
    missing = server.aws("eks", "describe-cluster", "--name", "nope", check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr and "No cluster found for name: nope." in missing.stderr
    bad_page = server.aws("eks", "list-clusters", "--max-results", "101", "--no-paginate", check=False)
    assert bad_page.returncode != 0 and "maxResults" in bad_page.stderr
    nobody = server.server.create_user_with_key("nobody")
    denied = server.aws("eks", "list-clusters", keys=nobody, check=False)
    assert denied.returncode != 0 and "AccessDeniedException" in denied.stderr
    bad_tag = server.aws("eks", "list-tags-for-resource", "--resource-arn", "arn:aws:eks:us-east-1:1:cluster/x",
                         check=False)
    assert bad_tag.returncode != 0 and "NotFoundException" in bad_tag.stderr


def control_plane_pids(data_dir: Path):
    """The running `keelson control-plane` processes serving clusters under `data_dir`."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"control-plane" in args and any(a.startswith(str(data_dir / "clusters").encode()) for a in args):
            pids.append(int(proc.name))
    return pids


def test_clusters_survive_a_server_restart_and_a_server_kill(server):
    eks = server.boto3()
    eks.create_cluster(name="durable", roleArn=role(server), resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    waiter = eks.get_waiter("cluster_active")
    waiter.config.delay = 1
    waiter.wait(name="durable")
    before = eks.describe_cluster(name="durable")["cluster"]
    kubeconfig = server.dir / "durable.kubeconfig"
    server.aws("eks", "update-kubeconfig", "--name", "durable", "--kubeconfig", str(kubeconfig))
    env = server.env(KUBECONFIG=str(kubeconfig), AWS_ENDPOINT_URL_STS=server.url)
    kubectl(env, "create", "configmap", "durable", "--from-literal=k=v")

    def check_back():
        eks = server.boto3()
        waiter = eks.get_waiter("cluster_active")
        waiter.config.delay = 1
        waiter.wait(name="durable")
        after = eks.describe_cluster(name="durable")["cluster"]
        assert after["endpoint"] == before["endpoint"]
        assert after["certificateAuthority"] == before["certificateAuthority"]
        deadline = time.time() + 30
        while True:
            got = kubectl(env, "get", "configmap", "durable", "-o", "jsonpath={.data.k}", check=False)
            if got.returncode == 0:
                assert got.stdout == "v"
                return
            assert time.time() < deadline, got.stderr
            time.sleep(0.2)

    # A clean restart stops the control planes with the server and starts them again.
    server.server.stop()
    assert control_plane_pids(server.server.data_dir) == []
    server.server.start()
    check_back()

    # kill -9 leaves the control plane running; the next server replaces it.
    orphans = control_plane_pids(server.server.data_dir)
    assert len(orphans) == 1
    server.server.stop(signal.SIGKILL)
    server.server.start()
    check_back()
    assert orphans[0] not in control_plane_pids(server.server.data_dir)

    server.server.client("eks", server.admin_keys).delete_cluster(name="durable")
    waiter = server.boto3().get_waiter("cluster_deleted")
    waiter.config.delay = 1
    waiter.wait(name="durable")
    assert control_plane_pids(server.server.data_dir) == []
