"""IAM and STS of `keelson server`, driven with the aws CLI and boto3 against a real server.

One server serves the whole module (started by the fixture on a free port in a temporary data
directory, stopped at the end); the restart test restarts it on the same directory. Every
secret the tests see is collected, and the last test checks none of them reached the log.
"""

import datetime
import json
import os
import stat
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aws_support import REGION, AwsServer, allow, trust

SECRETS = []


@pytest.fixture(scope="module")
def server():
    server = AwsServer().start()
    yield server
    server.cleanup()


def remember(keys):
    SECRETS.append(keys["SecretAccessKey"])
    if keys.get("SessionToken"):
        SECRETS.append(keys["SessionToken"])
    return keys


def error_of(call):
    """The (code, HTTP status) of the ClientError `call` raises."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def cli_error(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_first_start_writes_root_credentials_once(server):
    mode = stat.S_IMODE(os.stat(server.credentials_file).st_mode)
    assert mode == 0o600
    root = remember(server.root_keys())
    assert root["AccessKeyId"].startswith("AKIA") and len(root["AccessKeyId"]) == 20
    assert len(root["SecretAccessKey"]) == 40
    assert server.stdout().count(root["SecretAccessKey"]) == 1
    assert len(server.account_id) == 12 and server.account_id.isdigit()
    identity = server.client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    assert identity["Account"] == server.account_id == identity["UserId"]


def test_users_access_keys_and_inline_policies_with_the_cli(server):
    user = server.aws_json("iam", "create-user", "--user-name", "alice", "--path", "/dev/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{server.account_id}:user/dev/alice"
    assert user["UserId"].startswith("AIDA") and user["Path"] == "/dev/"
    assert "EntityAlreadyExists" in cli_error(server.aws("iam", "create-user", "--user-name", "ALICE", check=False))
    assert [u["UserName"] for u in server.aws_json("iam", "list-users")["Users"]] == ["alice"]
    assert server.aws_json("iam", "get-user", "--user-name", "alice")["User"]["UserId"] == user["UserId"]
    assert "NoSuchEntity" in cli_error(server.aws("iam", "get-user", "--user-name", "nobody", check=False))

    first = remember(server.aws_json("iam", "create-access-key", "--user-name", "alice")["AccessKey"])
    second = remember(server.aws_json("iam", "create-access-key", "--user-name", "alice")["AccessKey"])
    assert first["Status"] == "Active" and first["UserName"] == "alice"
    assert "LimitExceeded" in cli_error(server.aws("iam", "create-access-key", "--user-name", "alice", check=False))
    listed = server.aws_json("iam", "list-access-keys", "--user-name", "alice")["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([first["AccessKeyId"], second["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)

    document = allow(["iam:GetUser", "iam:ListUsers"])
    server.aws("iam", "put-user-policy", "--user-name", "alice", "--policy-name", "read",
               "--policy-document", json.dumps(document))
    assert server.aws_json("iam", "list-user-policies", "--user-name", "alice")["PolicyNames"] == ["read"]
    got = server.aws_json("iam", "get-user-policy", "--user-name", "alice", "--policy-name", "read")
    assert got["PolicyDocument"] == document and got["UserName"] == "alice"
    assert "MalformedPolicyDocument" in cli_error(server.aws(
        "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "bad",
        "--policy-document", '{"Statement":[{"Effect":"Allow","Action":"iam:*"}]}', check=False))
    # A condition Keelson cannot evaluate is refused, never ignored.
    unsupported = allow("iam:*", **{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert "MalformedPolicyDocument" in cli_error(server.aws(
        "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "ip",
        "--policy-document", json.dumps(unsupported), check=False))

    assert "DeleteConflict" in cli_error(server.aws("iam", "delete-user", "--user-name", "alice", check=False))
    server.aws("iam", "update-access-key", "--user-name", "alice", "--access-key-id", second["AccessKeyId"],
               "--status", "Inactive")
    assert "InvalidClientTokenId" in cli_error(server.aws("sts", "get-caller-identity", keys=second, check=False))
    server.aws("iam", "delete-access-key", "--user-name", "alice", "--access-key-id", second["AccessKeyId"])
    assert "NoSuchEntity" in cli_error(server.aws(
        "iam", "delete-access-key", "--user-name", "alice", "--access-key-id", second["AccessKeyId"], check=False))
    identity = server.aws_json("sts", "get-caller-identity", keys=first)
    assert identity["Arn"] == user["Arn"] and identity["UserId"] == user["UserId"]


def test_managed_policies_attach_and_block_deletion(server):
    server.aws("iam", "create-user", "--user-name", "bob")
    policy = server.aws_json("iam", "create-policy", "--policy-name", "ReadUsers",
                             "--policy-document", json.dumps(allow("iam:ListUsers")))["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{server.account_id}:policy/ReadUsers"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    server.aws("iam", "attach-user-policy", "--user-name", "bob", "--policy-arn", policy["Arn"])
    server.aws("iam", "attach-user-policy", "--user-name", "bob",
               "--policy-arn", "arn:aws:iam::aws:policy/AdministratorAccess")
    attached = server.aws_json("iam", "list-attached-user-policies", "--user-name", "bob")["AttachedPolicies"]
    assert {a["PolicyName"] for a in attached} == {"ReadUsers", "AdministratorAccess"}
    assert server.aws_json("iam", "get-policy", "--policy-arn", policy["Arn"])["Policy"]["AttachmentCount"] == 1
    assert "DeleteConflict" in cli_error(server.aws("iam", "delete-policy", "--policy-arn", policy["Arn"], check=False))
    assert "NoSuchEntity" in cli_error(server.aws(
        "iam", "attach-user-policy", "--user-name", "bob",
        "--policy-arn", f"arn:aws:iam::{server.account_id}:policy/Nope", check=False))
    for arn in [policy["Arn"], "arn:aws:iam::aws:policy/AdministratorAccess"]:
        server.aws("iam", "detach-user-policy", "--user-name", "bob", "--policy-arn", arn)
    server.aws("iam", "delete-policy", "--policy-arn", policy["Arn"])
    assert "NoSuchEntity" in cli_error(server.aws("iam", "get-policy", "--policy-arn", policy["Arn"], check=False))
    server.aws("iam", "delete-user", "--user-name", "bob")
    assert "NoSuchEntity" in cli_error(server.aws("iam", "get-user", "--user-name", "bob", check=False))


def test_every_call_is_authorized_by_the_callers_policies(server):
    keys = remember(server.create_user_with_key("carol"))
    iam = server.client("iam", keys)
    assert server.client("sts", keys).get_caller_identity()["Arn"].endswith(":user/carol"), \
        "GetCallerIdentity needs no permission"
    assert error_of(iam.list_users) == ("AccessDenied", 403)
    server.aws("iam", "attach-user-policy", "--user-name", "carol",
               "--policy-arn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    assert any(u["UserName"] == "carol" for u in iam.list_users()["Users"])
    assert error_of(lambda: iam.create_user(UserName="mallory")) == ("AccessDenied", 403)
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:list*", "Resource": "*"}]}
    server.aws("iam", "put-user-policy", "--user-name", "carol", "--policy-name", "deny",
               "--policy-document", json.dumps(deny))
    assert error_of(iam.list_users) == ("AccessDenied", 403), "an explicit deny wins (actions match case-insensitively)"
    iam.get_user(UserName="carol")
    server.aws("iam", "delete-user-policy", "--user-name", "carol", "--policy-name", "deny")
    iam.list_users()
    # Conditions on keys Keelson knows are evaluated.
    mine_only = allow("iam:CreateAccessKey", f"arn:aws:iam::{server.account_id}:user/*",
                      StringEquals={"aws:username": "dave"})
    dave = remember(server.create_user_with_key("dave", mine_only))
    remember(server.client("iam", dave).create_access_key(UserName="dave")["AccessKey"])
    server.aws("iam", "put-user-policy", "--user-name", "carol", "--policy-name", "keys",
               "--policy-document", json.dumps(mine_only))
    assert error_of(lambda: iam.create_access_key(UserName="carol")) == ("AccessDenied", 403)


def test_assume_role_with_a_trust_policy(server):
    erin = remember(server.create_user_with_key("erin"))
    frank = remember(server.create_user_with_key("frank"))
    erin_arn = f"arn:aws:iam::{server.account_id}:user/erin"
    role = server.aws_json("iam", "create-role", "--role-name", "deployer", "--path", "/ci/",
                           "--assume-role-policy-document", json.dumps(trust(erin_arn)))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{server.account_id}:role/ci/deployer"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600
    assert server.aws_json("iam", "get-role", "--role-name", "deployer")["Role"]["AssumeRolePolicyDocument"] == trust(erin_arn)
    assert "MalformedPolicyDocument" in cli_error(server.aws(
        "iam", "create-role", "--role-name", "broken",
        "--assume-role-policy-document", json.dumps(allow("sts:AssumeRole")), check=False))

    # The trust policy names erin, which suffices within the account.
    credentials = server.client("sts", erin).assume_role(RoleArn=role["Arn"], RoleSessionName="build-7",
                                                         DurationSeconds=900)["Credentials"]
    temporary = remember({"AccessKeyId": credentials["AccessKeyId"], "SecretAccessKey": credentials["SecretAccessKey"],
                          "SessionToken": credentials["SessionToken"]})
    assert temporary["AccessKeyId"].startswith("ASIA")
    expires_in = credentials["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=13) < expires_in <= datetime.timedelta(minutes=15)
    identity = server.aws_json("sts", "get-caller-identity", keys=temporary)
    assert identity["Arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/deployer/build-7"
    assert identity["UserId"] == f"{role['RoleId']}:build-7"

    # The session has the role's permissions, not erin's.
    session_iam = server.client("iam", temporary)
    assert error_of(session_iam.list_users) == ("AccessDenied", 403)
    server.aws("iam", "put-role-policy", "--role-name", "deployer", "--policy-name", "list",
               "--policy-document", json.dumps(allow("iam:ListUsers")))
    session_iam.list_users()
    assert server.aws_json("iam", "list-role-policies", "--role-name", "deployer")["PolicyNames"] == ["list"]
    assert "DeleteConflict" in cli_error(server.aws("iam", "delete-role", "--role-name", "deployer", check=False))

    # The session token is part of the credentials.
    forged = dict(temporary, SessionToken=temporary["SessionToken"][:-4] + "AAAA")
    assert error_of(server.client("sts", forged).get_caller_identity) == ("InvalidClientTokenId", 403)

    sts = server.client("sts", frank)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")) == ("AccessDenied", 403)
    # Trusting the account defers to the caller's own policies.
    server.aws("iam", "update-assume-role-policy", "--role-name", "deployer",
               "--policy-document", json.dumps(trust(server.account_id)))
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")) == ("AccessDenied", 403)
    server.aws("iam", "put-user-policy", "--user-name", "frank", "--policy-name", "assume",
               "--policy-document", json.dumps(allow("sts:AssumeRole", role["Arn"])))
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)) \
        == ("ValidationError", 400)
    assert error_of(lambda: server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")) \
        == ("AccessDenied", 403), "roles may not be assumed by root"
    missing = f"arn:aws:iam::{server.account_id}:role/missing"
    assert error_of(lambda: sts.assume_role(RoleArn=missing, RoleSessionName="s1")) == ("AccessDenied", 403)


def test_signature_and_key_errors(server):
    root = server.root_keys()
    wrong = dict(root, SecretAccessKey="x" * 40)
    assert error_of(server.client("sts", wrong).get_caller_identity) == ("SignatureDoesNotMatch", 403)
    assert error_of(server.client("iam", wrong).list_users) == ("SignatureDoesNotMatch", 403)
    unknown = {"AccessKeyId": "AKIAAAAAAAAAAAAAAAAA", "SecretAccessKey": "y" * 40}
    assert error_of(server.client("iam", unknown).list_users) == ("InvalidClientTokenId", 403)
    assert error_of(server.client("sts", unknown).get_caller_identity) == ("InvalidClientTokenId", 403)

    unsigned = requests.post(server.url + "/", data={"Action": "ListUsers", "Version": "2010-05-08"}, timeout=10)
    assert unsigned.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in unsigned.text
    assert unsigned.headers["x-amzn-RequestId"]

    # A signature older than the 15-minute clock-skew window is refused.
    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    request = AWSRequest(method="POST", url=server.url + "/", data="Action=ListUsers&Version=2010-05-08",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=stale):
        SigV4Auth(Credentials(root["AccessKeyId"], root["SecretAccessKey"]), "iam", REGION).add_auth(request)
    response = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
    assert response.status_code == 403 and "Signature expired" in response.text
    signed_now = AWSRequest(method="POST", url=server.url + "/", data="Action=ListUsers&Version=2010-05-08",
                            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(root["AccessKeyId"], root["SecretAccessKey"]), "iam", REGION).add_auth(signed_now)
    ok = requests.post(signed_now.url, data=signed_now.body, headers=dict(signed_now.headers), timeout=10)
    assert ok.status_code == 200 and ok.headers["x-amzn-RequestId"] in ok.text


def presign_get_caller_identity(server, keys, cluster):
    """What `aws eks get-token` presigns: GET GetCallerIdentity with a signed x-k8s-aws-id."""
    request = AWSRequest(method="GET", url=server.url + "/?Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"x-k8s-aws-id": cluster})
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys.get("SessionToken"))
    SigV4QueryAuth(credentials, "sts", REGION, expires=60).add_auth(request)
    return request.url


def test_presigned_get_caller_identity_answers_json(server):
    keys = remember(server.create_user_with_key("grace"))
    url = presign_get_caller_identity(server, keys, "c1")
    response = requests.get(url, headers={"x-k8s-aws-id": "c1", "Accept": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    result = response.json()["GetCallerIdentityResponse"]
    assert result["GetCallerIdentityResult"]["Arn"] == f"arn:aws:iam::{server.account_id}:user/grace"
    assert result["GetCallerIdentityResult"]["Account"] == server.account_id
    assert result["ResponseMetadata"]["RequestId"] == response.headers["x-amzn-RequestId"]
    other_cluster = requests.get(url, headers={"x-k8s-aws-id": "c2", "Accept": "application/json"}, timeout=10)
    assert other_cluster.status_code == 403
    assert "SignatureDoesNotMatch" in other_cluster.text


def test_restart_keeps_users_keys_and_the_account(server):
    keys = remember(server.create_user_with_key("heidi", allow("iam:GetUser")))
    account = server.account_id
    credentials_before = server.credentials_file.read_text()
    server.restart()
    assert server.account_id == account
    assert server.credentials_file.read_text() == credentials_before
    assert server.client("iam", keys).get_user(UserName="heidi")["User"]["UserName"] == "heidi"
    assert error_of(server.client("iam", keys).list_users) == ("AccessDenied", 403)
    everyone = [u["UserName"] for u in server.client("iam").list_users()["Users"]]
    assert "alice" in everyone and len(everyone) > 4
    pages = server.client("iam").get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2})
    assert [u["UserName"] for page in pages for u in page["Users"]] == everyone
    assert server.stdout().count(server.root_keys()["SecretAccessKey"]) == 1, "printed on the first start only"


def test_no_secret_reaches_the_log(server):
    log = server.log()
    assert "request" in log, "the log records requests"
    assert len(SECRETS) > 10
    for secret in SECRETS:
        assert secret not in log
    stdout = server.stdout()
    root_secret = server.root_keys()["SecretAccessKey"]
    for secret in SECRETS:
        if secret != root_secret:
            assert secret not in stdout


def test_tls_with_a_generated_certificate():
    server = AwsServer(tls=True)
    try:
        server.start()
        assert server.url.startswith("https://")
        assert server.ca_file.exists()
        identity = server.client("sts").get_caller_identity()
        assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(server.url.replace("https://", "http://") + "/", timeout=5)
        assert "SecretAccessKey" not in server.log()
    finally:
        server.cleanup()
