"""Signing in to a cluster with an AWS identity, as on EKS.

A real `keelson server` (IAM and STS, started by aws_support) holds the users; a real `keelson control-plane` is
started with a hand-written ClusterAuthConfig (`--aws-auth-config`) naming that STS, and kubectl
reaches it through exec plugins running `aws eks get-token` (AWS_ENDPOINT_URL_STS set) or
`keelson get-token`.
"""

import datetime
import json
import os
import time
from unittest import mock

import pytest
import yaml

from aws_tokens_support import (ADMIN_POLICY, AWS_CLI, CLUSTER, EDIT_POLICY, VIEW_POLICY, Cluster,
                                RegionalServer, entry, presigned_at, tampered)


@pytest.fixture(scope="module")
def setup():
    server = RegionalServer().start()
    try:
        account = server.account_id
        users = {name: server.create_user(name) for name in
                 ["admin", "viewer", "stranger", "mapped-by-configmap", "latecomer", "assumer"]}
        role_arn = server.create_role("deployer", path="/team/", trusted=f"arn:aws:iam::{account}:user/assumer")
        config = {
            "clusterId": CLUSTER, "stsEndpoints": [server.url],
            "authenticationMode": "API_AND_CONFIG_MAP",
            "accessEntries": [
                entry(f"arn:aws:iam::{account}:user/admin", "cluster-admin-user",
                      [(ADMIN_POLICY, {"type": "cluster"})]),
                entry(f"arn:aws:iam::{account}:user/viewer", "viewer",
                      [(VIEW_POLICY, {"type": "namespace", "namespaces": ["team-*"]})]),
                # A role with a path, as access entries allow; sessions carry no path.
                entry(role_arn, "deployer:{{SessionName}}",
                      [(EDIT_POLICY, {"type": "namespace", "namespaces": ["team-a"]})]),
            ],
        }
        cluster = Cluster(server, config)
        for ns in ["team-a", "elsewhere"]:
            cluster.plane.kubectl("create", "namespace", ns)
    except BaseException:
        server.cleanup()
        raise
    yield cluster, users, role_arn
    cluster.cleanup()
    server.cleanup()


def unauthorized(result) -> bool:
    return result.returncode != 0 and "Unauthorized" in result.stderr


def forbidden(result) -> bool:
    return result.returncode != 0 and "forbidden" in result.stderr.lower()


def test_cluster_admin_signs_in_with_aws_eks_get_token(setup):
    cluster, users, _ = setup
    kubeconfig = cluster.aws_cli_kubeconfig("admin-aws-cli", users["admin"])
    me = json.loads(cluster.kubectl(kubeconfig, "auth", "whoami", "-o", "json"))
    info = me["status"]["userInfo"]
    assert info["username"] == "cluster-admin-user"
    arn = f"arn:aws:iam::{cluster.server.account_id}:user/admin"
    assert info["extra"]["arn"] == [arn]
    assert info["extra"]["canonicalArn"] == [arn]
    assert info["extra"]["accessKeyId"] == [users["admin"]["AccessKeyId"]]
    assert info["uid"].startswith(f"aws-iam-authenticator:{cluster.server.account_id}:AIDA")
    cluster.kubectl(kubeconfig, "create", "namespace", "made-by-admin")
    cluster.kubectl(kubeconfig, "get", "nodes")


def test_cluster_admin_signs_in_with_keelson_get_token(setup):
    cluster, users, _ = setup
    kubeconfig = cluster.keelson_kubeconfig("admin-keelson", users["admin"])
    assert cluster.kubectl(kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") \
        == "cluster-admin-user"
    cluster.kubectl(kubeconfig, "create", "configmap", "settings", "-n", "kube-system",
                    "--from-literal=a=b")
    cluster.kubectl(kubeconfig, "delete", "configmap", "settings", "-n", "kube-system")


def test_token_reviews_accept_aws_tokens(setup):
    cluster, users, _ = setup
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": cluster.token(users["viewer"])}}
    out = json.loads(cluster.plane.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review)))
    assert out["status"]["authenticated"] is True
    assert out["status"]["user"]["username"] == "viewer"
    assert out["status"]["user"]["extra"]["principalId"][0].startswith("AIDA")
    review["spec"]["token"] = cluster.token(users["viewer"], cluster="another-cluster")
    out = json.loads(cluster.plane.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review)))
    assert out["status"]["authenticated"] is False


def test_a_namespace_scoped_viewer_reads_only_its_namespaces(setup):
    cluster, users, _ = setup
    admin = cluster.keelson_kubeconfig("admin-keelson", users["admin"])
    cluster.kubectl(admin, "create", "configmap", "shared", "-n", "team-a", "--from-literal=k=v")
    viewer = cluster.aws_cli_kubeconfig("viewer", users["viewer"])
    cluster.kubectl(viewer, "get", "pods", "-n", "team-a")
    assert cluster.kubectl(viewer, "get", "configmap", "shared", "-n", "team-a",
                           "-o", "jsonpath={.data.k}") == "v"
    assert cluster.kubectl(viewer, "auth", "can-i", "list", "pods", "-n", "team-a").strip() == "yes"
    assert cluster.kubectl(viewer, "auth", "can-i", "list", "pods", "-n", "elsewhere", check=False).stdout.strip() == "no"
    rules = cluster.kubectl(viewer, "auth", "can-i", "--list", "-n", "team-a")
    assert any(line.split()[0] == "pods" and "list" in line for line in rules.splitlines()[1:]), rules
    assert forbidden(cluster.kubectl(viewer, "get", "pods", "-n", "elsewhere", check=False))
    assert forbidden(cluster.kubectl(viewer, "get", "nodes", check=False))
    assert forbidden(cluster.kubectl(viewer, "create", "configmap", "mine", "-n", "team-a", check=False))
    assert forbidden(cluster.kubectl(viewer, "delete", "configmap", "shared", "-n", "team-a", check=False))


def test_an_unmapped_identity_gets_401(setup):
    cluster, users, _ = setup
    stranger = cluster.keelson_kubeconfig("stranger", users["stranger"])
    assert unauthorized(cluster.kubectl(stranger, "get", "pods", check=False))
    assert cluster.status_with_token(cluster.token(users["stranger"])) == 401


def test_a_token_minted_for_another_cluster_gets_401(setup):
    cluster, users, _ = setup
    assert cluster.status_with_token(cluster.token(users["admin"])) == 200
    assert cluster.status_with_token(cluster.token(users["admin"], cluster="another-cluster")) == 401


def test_expired_and_tampered_tokens_get_401(setup):
    cluster, users, _ = setup
    now = datetime.datetime.now(datetime.timezone.utc)
    fresh = presigned_at(cluster.server, users["admin"], now)
    assert cluster.status_with_token(fresh) == 200
    expired = presigned_at(cluster.server, users["admin"], now - datetime.timedelta(minutes=16))
    assert cluster.status_with_token(expired) == 401
    assert cluster.status_with_token(tampered(cluster.token(users["admin"]))) == 401
    assert cluster.status_with_token("k8s-aws-v1." + "A" * 5000) == 401


def test_aws_auth_config_map_maps_users_in_api_and_config_map_mode(setup):
    cluster, users, _ = setup
    admin = cluster.keelson_kubeconfig("admin-keelson", users["admin"])
    mapped = cluster.aws_cli_kubeconfig("mapped", users["mapped-by-configmap"])
    assert unauthorized(cluster.kubectl(mapped, "get", "nodes", check=False))
    arn = f"arn:aws:iam::{cluster.server.account_id}:user/mapped-by-configmap"
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapUsers": yaml.safe_dump([
            # Upper case: aws-auth ARNs match case-insensitively.
            {"userarn": arn.upper().replace("ARN:AWS:IAM", "arn:aws:iam"), "username": "ops",
             "groups": ["system:masters"]}])},
    }
    cluster.kubectl(admin, "apply", "-f", "-", input=json.dumps(config_map))
    deadline = time.time() + 10
    while cluster.kubectl(mapped, "get", "nodes", check=False).returncode != 0:
        assert time.time() < deadline, "the aws-auth mapping never took effect"
        time.sleep(0.2)
    assert cluster.kubectl(mapped, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == "ops"
    cluster.kubectl(mapped, "create", "namespace", "made-by-ops")


def test_access_entries_follow_the_file(setup):
    cluster, users, _ = setup
    late = cluster.keelson_kubeconfig("latecomer", users["latecomer"])
    assert unauthorized(cluster.kubectl(late, "get", "pods", "-n", "team-a", check=False))
    arn = f"arn:aws:iam::{cluster.server.account_id}:user/latecomer"
    cluster.update_auth_config(lambda c: c["accessEntries"].append(
        entry(arn, "late", [(VIEW_POLICY, {"type": "cluster"})])))
    deadline = time.time() + 15
    while cluster.kubectl(late, "get", "pods", "-n", "team-a", check=False).returncode != 0:
        assert time.time() < deadline, "the new access entry never took effect"
        time.sleep(0.3)
    cluster.update_auth_config(lambda c: c["accessEntries"].pop())
    deadline = time.time() + 15
    while not unauthorized(cluster.kubectl(late, "get", "pods", "-n", "team-a", check=False)):
        assert time.time() < deadline, "the removed access entry still signs the user in"
        time.sleep(0.3)


def test_role_sessions_map_through_their_role_entry(setup):
    cluster, users, role_arn = setup
    deployer = cluster.keelson_kubeconfig("deployer", users["assumer"], "--role-arn", role_arn)
    assert cluster.kubectl(deployer, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") \
        == "deployer:EKSGetTokenAuth"
    cluster.kubectl(deployer, "create", "configmap", "deployed", "-n", "team-a", "--from-literal=x=y")
    assert forbidden(cluster.kubectl(deployer, "create", "configmap", "x", "-n", "elsewhere", check=False))
    via_cli = cluster.kubeconfig("deployer-cli", AWS_CLI, [
        "--region", cluster.server.region, "eks", "get-token", "--cluster-name", CLUSTER,
        "--role-arn", role_arn], users["assumer"])
    assert cluster.kubectl(via_cli, "get", "configmap", "deployed", "-n", "team-a",
                           "-o", "jsonpath={.data.x}") == "y"


def test_tokens_and_signatures_never_reach_the_log(setup):
    """Runs last: every token above was presented to this control plane."""
    cluster, users, _ = setup
    token = cluster.token(users["stranger"])
    assert cluster.status_with_token(token) == 401
    assert cluster.status_with_token(tampered(cluster.token(users["admin"]))) == 401
    log = cluster.plane.log_path.read_text()
    assert "AWS token refused" in log, "refusals are logged, with their reason"
    # The STS that checked them must not log them either.
    for text in [log, cluster.server.log()]:
        for secret in ["k8s-aws-v1.", "X-Amz-Signature", "X-Amz-Credential", token[11:60]]:
            assert secret not in text
        for keys in users.values():
            assert keys["SecretAccessKey"] not in text


def test_sts_over_https_is_verified_against_trusted_roots():
    """A TLS STS endpoint: the API server trusts the system roots, or SSL_CERT_FILE's."""
    server = RegionalServer(tls=True).start()
    clusters = []
    try:
        keys = server.create_user("admin")
        config = {
            "clusterId": CLUSTER, "stsEndpoints": [server.url], "authenticationMode": "API",
            "accessEntries": [entry(f"arn:aws:iam::{server.account_id}:user/admin", "admin",
                                    [(ADMIN_POLICY, {"type": "cluster"})])],
        }
        with mock.patch.dict(os.environ, {"SSL_CERT_FILE": str(server.ca_file)}):
            trusting = Cluster(server, dict(config))
        clusters.append(trusting)
        with mock.patch.dict(os.environ):
            os.environ.pop("SSL_CERT_FILE", None)
            untrusting = Cluster(server, dict(config))
        clusters.append(untrusting)
        token = trusting.token(keys)
        assert trusting.status_with_token(token) == 200
        assert untrusting.status_with_token(token) == 401
    finally:
        for cluster in clusters:
            cluster.cleanup()
        server.cleanup()
