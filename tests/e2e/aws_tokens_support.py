"""What test_aws_tokens.py drives: a `keelson server` (IAM and STS) worked with the aws CLI, a
control plane started with a ClusterAuthConfig file, kubeconfigs whose exec plugins mint AWS
tokens, and tokens signed at a chosen time or tampered with."""

import base64
import datetime
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

import requests
import yaml

from aws_support import AWS_CLI, REGION, AwsServer, trust
from conftest import ControlPlane, keelson_bin

CLUSTER = "aws-e2e"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


class RegionalServer(AwsServer):
    """`keelson server` (aws_support's), with the IAM principals these tests need."""

    region = REGION

    def create_user(self, name):
        return self.create_user_with_key(name)

    def create_role(self, name, path, trusted):
        return self.aws_json("iam", "create-role", "--role-name", name, "--path", path,
                             "--assume-role-policy-document", json.dumps(trust(trusted)))["Role"]["Arn"]


def entry(arn, username, policies=(), groups=()):
    return {
        "principalArn": arn, "username": username, "kubernetesGroups": list(groups),
        "type": "STANDARD",
        "accessPolicies": [{"policyArn": p, "accessScope": s} for p, s in policies],
    }


def write_atomically(path: Path, document):
    """As the EKS service replaces the file: write beside it, then rename over it."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(document))
    os.replace(partial, path)


class Cluster:
    """A control plane signing in AWS users, and kubeconfigs for them."""

    def __init__(self, server, auth_config: dict):
        self.server = server
        self.dir = Path(tempfile.mkdtemp(prefix="keelson-aws-tokens-"))
        self.auth_path = self.dir / "cluster-auth.json"
        self.auth_config = auth_config
        write_atomically(self.auth_path, auth_config)
        self.plane = ControlPlane("1.33", extra_args=["--aws-auth-config", str(self.auth_path)]).start()
        admin = yaml.safe_load(Path(self.plane.kubeconfig).read_text())
        self.ca_data = admin["clusters"][0]["cluster"]["certificate-authority-data"]
        self.ca_file = self.dir / "ca.crt"
        self.ca_file.write_bytes(base64.b64decode(self.ca_data))

    def update_auth_config(self, change):
        change(self.auth_config)
        write_atomically(self.auth_path, self.auth_config)

    def kubeconfig(self, name: str, command: str, args: list, keys: dict) -> str:
        env = [{"name": k, "value": v} for k, v in {
            "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
            "AWS_ENDPOINT_URL_STS": self.server.url,
            # Keep the machine's own AWS configuration out of the plugin.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }.items()]
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": CLUSTER, "cluster": {
                "server": self.plane.url, "certificate-authority-data": self.ca_data}}],
            "users": [{"name": name, "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": command,
                "args": args, "env": env, "interactiveMode": "Never"}}}],
            "contexts": [{"name": name, "context": {"cluster": CLUSTER, "user": name}}],
        }
        path = self.dir / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        return str(path)

    def aws_cli_kubeconfig(self, name, keys):
        return self.kubeconfig(name, AWS_CLI, [
            "--region", self.server.region, "eks", "get-token", "--cluster-name", CLUSTER,
            "--output", "json"], keys)

    def keelson_kubeconfig(self, name, keys, *extra):
        return self.kubeconfig(name, keelson_bin(), [
            "get-token", "--cluster-name", CLUSTER, "--region", self.server.region, *extra], keys)

    def kubectl(self, kubeconfig, *args, check=True, input=None):
        return self.plane.kubectl(*args, check=check, input=input,
                                  env=self.plane.env(KUBECONFIG=kubeconfig))

    def token(self, keys, cluster=CLUSTER) -> str:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
                   AWS_ENDPOINT_URL_STS=self.server.url, AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        out = subprocess.run([keelson_bin(), "get-token", "--cluster-name", cluster],
                             capture_output=True, text=True, check=True, env=env).stdout
        return json.loads(out)["status"]["token"]

    def status_with_token(self, token: str, path="/api/v1/namespaces") -> int:
        response = requests.get(self.plane.url + path, verify=str(self.ca_file),
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return response.status_code

    def cleanup(self):
        self.plane.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def tampered(token: str) -> str:
    url = base64.urlsafe_b64decode(token[len("k8s-aws-v1."):] + "==").decode()
    base, signature = url.rsplit("X-Amz-Signature=", 1)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return "k8s-aws-v1." + base64.urlsafe_b64encode((base + "X-Amz-Signature=" + flipped).encode()).decode().rstrip("=")


def presigned_at(server, keys, when: datetime.datetime, cluster=CLUSTER) -> str:
    """A token as `aws eks get-token` presigns it, with botocore's clock set to `when`."""
    import botocore.session

    class Clock(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):
            return when.astimezone(tz) if tz else when.replace(tzinfo=None)

    client = botocore.session.get_session().create_client(
        "sts", region_name=server.region, endpoint_url=server.url,
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"])
    client.meta.events.register(
        "before-sign.sts.GetCallerIdentity",
        lambda request, **_: request.headers.__setitem__("x-k8s-aws-id", cluster))
    with mock.patch("botocore.auth.datetime.datetime", Clock):
        url = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
