"""Service accounts as the controller manager keeps them: the default account and
kube-root-ca.crt in every namespace, and long-lived tokens in service-account-token Secrets."""

import base64
import json


def token_secret(name, account):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": account}}}


def test_namespaces_get_default_account_and_root_ca(plane, namespace):
    assert plane.kubectl("get", "serviceaccount", "default", "-n", namespace, "-o", "name").strip() \
        == "serviceaccount/default"
    plane.wait_for(lambda: plane.kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace,
                                         check=False).returncode == 0, "kube-root-ca.crt")
    ca = plane.kubectl_json("get", "configmap", "kube-root-ca.crt", "-n", namespace)["data"]["ca.crt"]
    assert ca.startswith("-----BEGIN CERTIFICATE-----")


def test_token_secrets_are_filled_and_honoured_while_they_exist(plane, namespace):
    plane.kubectl("create", "serviceaccount", "builder", "-n", namespace)
    plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(token_secret("builder-token", "builder")))
    plane.wait_for(lambda: "token" in plane.kubectl_json("get", "secret", "builder-token", "-n", namespace)
                   .get("data", {}), "the token controller")
    secret = plane.kubectl_json("get", "secret", "builder-token", "-n", namespace)
    assert base64.b64decode(secret["data"]["namespace"]).decode() == namespace
    assert base64.b64decode(secret["data"]["ca.crt"]).decode().startswith("-----BEGIN CERTIFICATE-----")
    account = plane.kubectl_json("get", "serviceaccount", "builder", "-n", namespace)
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == account["metadata"]["uid"]
    token = base64.b64decode(secret["data"]["token"]).decode()

    # The token signs in as the service account (kubectl with only the token and the CA).
    env = plane.env(KUBECONFIG="/dev/null")
    ca_file = plane.data_dir / f"ca-{namespace}.crt"
    ca_file.write_text(base64.b64decode(secret["data"]["ca.crt"]).decode())
    as_token = ["--server", plane.url, "--certificate-authority", str(ca_file), "--token", token]
    whoami = plane.kubectl("auth", "whoami", "-o", "json", *as_token, env=env)
    assert json.loads(whoami)["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:builder"

    # Deleting the Secret revokes the token at once.
    plane.kubectl("delete", "secret", "builder-token", "-n", namespace)
    refused = plane.kubectl("get", "pods", "-n", namespace, *as_token, env=env, check=False)
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr

    # A token Secret of a deleted account is removed.
    plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(token_secret("second", "builder")))
    plane.wait_for(lambda: "token" in plane.kubectl_json("get", "secret", "second", "-n", namespace)
                   .get("data", {}), "the second token")
    plane.kubectl("delete", "serviceaccount", "builder", "-n", namespace)
    plane.wait_for(lambda: plane.kubectl("get", "secret", "second", "-n", namespace, check=False).returncode != 0,
                   "the orphaned token secret deleted")
