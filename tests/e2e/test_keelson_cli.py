"""`keelson create cluster / get clusters / delete cluster / utils write-kubeconfig`, the
eksctl-style command line, against a real `keelson server` (aws_support's AwsServer).

As on EKS, the account root cannot sign in to clusters, so an IAM user with the
AdministratorAccess managed policy (made with the aws CLI) drives everything. kubectl reaches
the cluster through the kubeconfig `keelson create cluster` writes, whose exec plugin is
`keelson get-token`; the aws CLI checks what the command line did through the public API.
"""

import json
import os
import subprocess
from unittest import mock

import pytest
import yaml

from aws_support import REGION, AwsServer
from conftest import keelson_bin

CLUSTER = "cli-e2e"


class Cli:
    """A `keelson server` and an admin user's environment for `keelson` and kubectl."""

    def __init__(self, server: AwsServer):
        self.server = server
        self.dir = server.dir
        server.aws("iam", "create-user", "--user-name", "admin")
        server.aws("iam", "attach-user-policy", "--user-name", "admin",
                   "--policy-arn", "arn:aws:iam::aws:policy/AdministratorAccess")
        self.keys = server.aws_json("iam", "create-access-key", "--user-name", "admin")["AccessKey"]
        self.kubeconfig = self.dir / "kubeconfig"

    def env(self, **extra):
        env = self.server.env(self.keys, KUBECONFIG=str(self.kubeconfig))
        env.update(extra)
        return env

    def keelson(self, *args, check=True, timeout=180, **extra):
        result = subprocess.run([keelson_bin(), *args], capture_output=True, text=True,
                                env=self.env(**extra), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"keelson {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr}\n{self.server.log_tail()}")
        return result

    def kubectl(self, *args, check=True, **extra):
        result = subprocess.run(["kubectl", *args], capture_output=True, text=True,
                                env=self.env(**extra), timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result

    def write(self, name, text):
        path = self.dir / name
        path.write_text(text)
        return path


@pytest.fixture(scope="module")
def cli():
    server = AwsServer()
    try:
        server.start()
        yield Cli(server)
    finally:
        server.cleanup()


CONFIG = f"""
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {CLUSTER}
  region: {REGION}
  version: "1.33"
  tags:
    team: platform
kubernetesNetworkConfig:
  serviceIPv4CIDR: 172.20.0.0/16
iam:
  withOIDC: true
accessConfig:
  authenticationMode: API_AND_CONFIG_MAP
  bootstrapClusterCreatorAdminPermissions: true
"""


def test_a_cluster_from_an_eksctl_config_to_kubectl_and_back(cli):
    # A second user, let in by an access entry of the file: view rights in `default` only.
    viewer_keys = cli.server.create_user_with_key("viewer")
    viewer_arn = f"arn:aws:iam::{cli.server.account_id}:user/viewer"
    config = cli.write("cluster.yaml", CONFIG + f"""
  accessEntries:
    - principalARN: {viewer_arn}
      kubernetesUsername: viewer
      accessPolicies:
        - policyARN: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
          accessScope: {{type: namespace, namespaces: [default]}}
""")
    created = cli.keelson("create", "cluster", "-f", str(config))
    # Progress as it goes, then the kubeconfig.
    assert f'cluster "{CLUSTER}" is CREATING' in created.stderr, created.stderr
    assert f'cluster "{CLUSTER}" is ACTIVE after' in created.stderr, created.stderr
    assert "saved kubeconfig" in created.stderr
    assert "placeholder subnets" in created.stderr
    assert cli.keys["SecretAccessKey"] not in created.stderr + created.stdout

    described = cli.server.aws_json("eks", "describe-cluster", "--name", CLUSTER, keys=cli.keys)["cluster"]
    account = cli.server.account_id
    assert described["status"] == "ACTIVE"
    assert described["version"] == "1.33"
    assert described["tags"] == {"team": "platform"}
    assert described["roleArn"] == f"arn:aws:iam::{account}:role/eksctl-{CLUSTER}-cluster-ServiceRole"
    assert described["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"
    assert described["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert described["resourcesVpcConfig"]["subnetIds"] == \
        ["subnet-keelson-placeholder-a", "subnet-keelson-placeholder-b"]

    # The kubeconfig has aws eks update-kubeconfig's shape, with keelson get-token as plugin.
    kubeconfig = yaml.safe_load(cli.kubeconfig.read_text())
    arn = described["arn"]
    assert kubeconfig["current-context"] == arn
    assert kubeconfig["clusters"] == [{"name": arn, "cluster": {
        "server": described["endpoint"],
        "certificate-authority-data": described["certificateAuthority"]["data"]}}]
    assert kubeconfig["contexts"] == [{"name": arn, "context": {"cluster": arn, "user": arn}}]
    exec_ = kubeconfig["users"][0]["user"]["exec"]
    assert exec_["command"] == os.path.abspath(keelson_bin())
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["args"] == ["get-token", "--cluster-name", CLUSTER, "--region", REGION]

    # kubectl as the admin user, through the exec plugin.
    namespaces = cli.kubectl("get", "ns", "-o", "json")
    names = [item["metadata"]["name"] for item in json.loads(namespaces.stdout)["items"]]
    assert "kube-system" in names
    whoami = json.loads(cli.kubectl("auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["extra"]["arn"] == [f"arn:aws:iam::{account}:user/admin"]

    assert f"access entry for {viewer_arn}" in created.stderr
    as_viewer = dict(AWS_ACCESS_KEY_ID=viewer_keys["AccessKeyId"],
                     AWS_SECRET_ACCESS_KEY=viewer_keys["SecretAccessKey"])
    assert cli.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                       **as_viewer).stdout == "viewer"
    assert cli.kubectl("auth", "can-i", "list", "pods", "-n", "default", **as_viewer).stdout.strip() == "yes"
    assert cli.kubectl("auth", "can-i", "list", "pods", "-n", "kube-system", check=False,
                       **as_viewer).stdout.strip() == "no"

    # get clusters: table, json, yaml.
    table = cli.keelson("get", "clusters").stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "STATUS", "CREATED"]
    row = next(line.split() for line in table[1:] if line.split()[0] == CLUSTER)
    assert row[1:3] == ["1.33", "ACTIVE"]
    listed = json.loads(cli.keelson("get", "clusters", "--region", REGION, "-o", "json").stdout)
    assert [c["name"] for c in listed] == [CLUSTER]
    assert listed[0]["arn"] == arn
    assert yaml.safe_load(cli.keelson("get", "cluster", "-o", "yaml").stdout)[0]["status"] == "ACTIVE"

    # write-kubeconfig into a file with another context keeps that context.
    other = cli.write("other-kubeconfig", yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
        "clusters": [{"name": "elsewhere", "cluster": {"server": "https://192.0.2.1:6443"}}],
        "contexts": [{"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "someone"}}],
        "users": [{"name": "someone", "user": {"token": "not-a-real-token"}}],
    }))
    cli.keelson("utils", "write-kubeconfig", "--cluster", CLUSTER, "--kubeconfig", str(other))
    merged = yaml.safe_load(other.read_text())
    assert sorted(c["name"] for c in merged["contexts"]) == sorted(["elsewhere", arn])
    assert {u["name"] for u in merged["users"]} == {"someone", arn}
    assert merged["current-context"] == arn
    assert cli.kubectl("--kubeconfig", str(other), "get", "ns", "kube-system").returncode == 0
    contexts = cli.kubectl("--kubeconfig", str(other), "config", "get-contexts", "-o", "name").stdout
    assert set(contexts.split()) == {"elsewhere", arn}

    # delete --wait: gone for the aws CLI too.
    deleted = cli.keelson("delete", "cluster", "--name", CLUSTER, "--wait")
    assert f'cluster "{CLUSTER}" is gone' in deleted.stderr, deleted.stderr
    gone = cli.server.aws("eks", "describe-cluster", "--name", CLUSTER, keys=cli.keys, check=False)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr
    assert json.loads(cli.keelson("get", "clusters", "-o", "json").stdout) == []


@pytest.mark.parametrize("text, message", [
    ("apiVersion: eksctl.io/v1alpha5\nkind: NodeGroup\nmetadata: {name: x}\n",
     'kind is "NodeGroup", expected ClusterConfig'),
    ("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {region: us-east-1}\n",
     "metadata.name is required"),
    ("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: ng}\n"
     "managedNodeGroups:\n  - name: ng-1\n    desiredCapacity: 2\n",
     "managedNodeGroups is not supported"),
    ("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: typo}\nvpcc: {}\n",
     'unknown field "vpcc"'),
])
def test_a_bad_cluster_config_is_refused_clearly(cli, text, message):
    config = cli.write("bad.yaml", text)
    result = cli.keelson("create", "cluster", "-f", str(config), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert str(config) in result.stderr
    listed = json.loads(cli.keelson("get", "clusters", "-o", "json").stdout)
    assert listed == [], "nothing was created"


def test_service_errors_show_their_code(cli):
    missing = cli.keelson("delete", "cluster", "--name", "no-such-cluster", check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr, missing.stderr
    assert "no-such-cluster" in missing.stderr
    root = cli.keelson("get", "clusters", check=False,
                       AWS_ACCESS_KEY_ID="AKIANOTAKEY", AWS_SECRET_ACCESS_KEY="nope",
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    assert root.returncode != 0
    assert "EKS ListClusters:" in root.stderr, root.stderr


def test_flags_and_endpoint_url_alone_are_enough(cli):
    """`--name/--version` without a file, and `--endpoint-url` with no AWS_ENDPOINT_URL*: STS
    is reached at the same address, and the kubeconfig tells its exec plugin where STS is, so
    kubectl works from a shell without the variables."""
    bare = {"AWS_ENDPOINT_URL": ""}
    url = cli.server.url
    created = cli.keelson("create", "cluster", "--name", "from-flags", "--version", "1.32",
                          "--endpoint-url", url, "--kubeconfig", str(cli.dir / "flags-kubeconfig"),
                          **bare)
    assert 'cluster "from-flags" is ACTIVE after' in created.stderr, created.stderr
    described = cli.server.aws_json("eks", "describe-cluster", "--name", "from-flags", keys=cli.keys)
    assert described["cluster"]["version"] == "1.32"
    kubeconfig = yaml.safe_load((cli.dir / "flags-kubeconfig").read_text())
    assert kubeconfig["users"][0]["user"]["exec"]["env"] == [
        {"name": "AWS_ENDPOINT_URL_STS", "value": url}]
    ns = cli.kubectl("--kubeconfig", str(cli.dir / "flags-kubeconfig"), "get", "ns", "default",
                     "-o", "name", **bare)
    assert ns.stdout.strip() == "namespace/default"
    assert "from-flags" in cli.keelson("get", "clusters", "--endpoint-url", url, **bare).stdout
    refused = cli.keelson("create", "cluster", "-f", str(cli.write("c.yaml", CONFIG)),
                          "--name", "other", check=False)
    assert refused.returncode != 0
    assert "cannot use --name when --config-file/-f is set" in refused.stderr
    cli.keelson("delete", "cluster", "--name", "from-flags", "--wait", "--endpoint-url", url, **bare)
    assert json.loads(cli.keelson("get", "clusters", "-o", "json").stdout) == []


def test_a_tls_server_is_trusted_through_aws_ca_bundle():
    server = AwsServer(tls=True)
    try:
        # The clusters' API servers call the server's STS to check tokens: they trust its CA
        # through SSL_CERT_FILE, which they inherit from the server.
        with mock.patch.dict(os.environ, {"SSL_CERT_FILE": str(server.ca_file)}):
            server.start()
        tls = Cli(server)
        assert tls.env()["AWS_CA_BUNDLE"] == str(server.ca_file)
        tls.keelson("create", "cluster", "--name", "over-tls", "--region", REGION)
        assert tls.kubectl("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"
        listed = json.loads(tls.keelson("get", "clusters", "-o", "json").stdout)
        assert [c["name"] for c in listed] == ["over-tls"]
        untrusted = tls.keelson("get", "clusters", check=False, AWS_CA_BUNDLE="")
        assert untrusted.returncode != 0
        assert "certificate" in untrusted.stderr.lower(), untrusted.stderr
        missing = tls.keelson("get", "clusters", check=False, AWS_CA_BUNDLE=str(server.dir / "none.pem"))
        assert missing.returncode != 0
        assert "none.pem" in missing.stderr, missing.stderr
        tls.keelson("delete", "cluster", "--name", "over-tls", "--wait")
    finally:
        server.cleanup()


def test_the_profile_flag_wins_over_keys_in_the_environment(cli):
    credentials = cli.write("credentials", "[admin]\n"
                            f"aws_access_key_id = {cli.keys['AccessKeyId']}\n"
                            f"aws_secret_access_key = {cli.keys['SecretAccessKey']}\n")
    bogus = dict(AWS_ACCESS_KEY_ID="AKIANOTAKEY", AWS_SECRET_ACCESS_KEY="nope",
                 AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    refused = cli.keelson("get", "clusters", check=False, **bogus)
    assert "UnrecognizedClientException" in refused.stderr, refused.stderr
    assert json.loads(cli.keelson("get", "clusters", "--profile", "admin", "-o", "json", **bogus).stdout) == []


def test_delete_cluster_removes_its_node_groups_first(cli):
    cli.keelson("create", "cluster", "--name", "with-nodes", "--write-kubeconfig=false")
    role = f"arn:aws:iam::{cli.server.account_id}:role/eks-nodes"
    cli.server.aws("eks", "create-nodegroup", "--cluster-name", "with-nodes", "--nodegroup-name", "workers",
                   "--scaling-config", "minSize=1,maxSize=2,desiredSize=1", "--subnets", "subnet-1",
                   "--node-role", role, keys=cli.keys)
    # EKS itself refuses while the group exists; the command line deletes it first, as eksctl.
    refused = cli.server.aws("eks", "delete-cluster", "--name", "with-nodes", keys=cli.keys, check=False)
    assert "ResourceInUseException" in refused.stderr, refused.stderr
    deleted = cli.keelson("delete", "cluster", "--name", "with-nodes", "--wait", timeout=300)
    assert 'node group "workers" is gone' in deleted.stderr, deleted.stderr
    assert 'cluster "with-nodes" is gone' in deleted.stderr, deleted.stderr
    gone = cli.server.aws("eks", "describe-cluster", "--name", "with-nodes", keys=cli.keys, check=False)
    assert "ResourceNotFoundException" in gone.stderr
