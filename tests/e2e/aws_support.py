"""Reusable fixtures for tests of `keelson server` (the regional IAM/STS/EKS endpoint).

`AwsServer` starts a real `keelson server` on a free loopback port in a temporary data
directory, and stops it (SIGTERM, then SIGKILL) at the end; `restart()` keeps the directory.
Its stderr (the log) and stdout are kept apart, so tests can check that no secret reaches the
log. Credentials are dicts shaped like IAM's AccessKey (`AccessKeyId`, `SecretAccessKey`,
optionally `SessionToken`); `root_keys()` reads DATA_DIR/credentials.
"""

import configparser
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import free_port, keelson_bin

REGION = "us-east-1"
# The aws CLI of the test virtualenv (next to the interpreter running the tests).
AWS_CLI = shutil.which("aws", path=str(Path(os.sys.executable).parent)) or "aws"


class AwsServer:
    def __init__(self, tls=False, extra_args=()):
        self.dir = Path(tempfile.mkdtemp(prefix="keelson-aws-e2e-"))
        self.data_dir = self.dir / "data"
        self.home = self.dir / "home"
        self.home.mkdir()
        self.port = free_port()
        self.tls = tls
        self.extra_args = list(extra_args)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log_path = self.dir / "server.log"
        self.stdout_path = self.dir / "server.stdout"
        self.proc = None
        self.account_id = None

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    def start(self):
        args = [keelson_bin(), "server", "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}", "--region", REGION,
                *(["--tls"] if self.tls else []), *self.extra_args]
        with open(self.stdout_path, "ab") as out, open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=out, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keelson server exited early:\n" + self.log_tail())
            if self.credentials_file.exists():
                result = self.aws("sts", "get-caller-identity", check=False)
                if result.returncode == 0:
                    self.account_id = json.loads(result.stdout)["Account"]
                    return self
            time.sleep(0.1)
        raise RuntimeError("keelson server not ready in 30s:\n" + self.log_tail())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def log_tail(self) -> str:
        return self.log()[-4000:]

    def root_keys(self) -> dict:
        parser = configparser.ConfigParser()
        parser.read(self.credentials_file)
        return {"AccessKeyId": parser["default"]["aws_access_key_id"],
                "SecretAccessKey": parser["default"]["aws_secret_access_key"]}

    def env(self, keys=None, **extra) -> dict:
        """Environment for the aws CLI: the root's credentials file, or `keys`."""
        env = dict(os.environ, HOME=str(self.home), AWS_ENDPOINT_URL=self.url,
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull)
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE"]:
            env.pop(name, None)
        if self.tls:
            env["AWS_CA_BUNDLE"] = str(self.ca_file)
        if keys is None:
            env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.credentials_file)
        else:
            env.update(AWS_ACCESS_KEY_ID=keys["AccessKeyId"], AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull)
            if keys.get("SessionToken"):
                env["AWS_SESSION_TOKEN"] = keys["SessionToken"]
        env.update(extra)
        return env

    def aws(self, *args, keys=None, check=True, timeout=60, **extra):
        """Runs the aws CLI (`--endpoint-url` comes from AWS_ENDPOINT_URL) with JSON output."""
        result = subprocess.run([AWS_CLI, *args, "--output", "json"], capture_output=True, text=True,
                                env=self.env(keys, **extra), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)}: {result.stderr}\n{self.log_tail()}")
        return result

    def aws_json(self, *args, **kwargs):
        return json.loads(self.aws(*args, **kwargs).stdout or "{}")

    def client(self, service, keys=None):
        """A boto3 client for `service`, as the root (default) or with `keys`; no retries, so
        errors surface at once."""
        keys = keys or self.root_keys()
        return boto3.client(service, region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id=keys["AccessKeyId"],
                            aws_secret_access_key=keys["SecretAccessKey"],
                            aws_session_token=keys.get("SessionToken"),
                            verify=str(self.ca_file) if self.tls else None,
                            config=Config(retries={"max_attempts": 1}))

    def create_user_with_key(self, name, policy=None):
        """A user with one access key and, optionally, an inline policy named `inline`."""
        self.aws("iam", "create-user", "--user-name", name)
        if policy is not None:
            self.aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "inline",
                     "--policy-document", json.dumps(policy))
        return self.aws_json("iam", "create-access-key", "--user-name", name)["AccessKey"]


def allow(action, resource="*", **condition):
    """An identity policy allowing `action` (a string or a list) on `resource`."""
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def trust(*principals):
    """A trust policy letting the given AWS principals (ARNs or account ids) assume a role."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}]}
