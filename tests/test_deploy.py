"""The deployment files parse with the tools that run them and agree with the service: the compose
file (`docker-compose config`), the Kubernetes manifests (kubernetes-validate), nginx's body limit,
and every TEXTSEP_* variable they set. tests/test_cluster.py runs the nginx config for real."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.middleware import CLIENT_REQUEST_ID
from service.settings import Settings, env_name, upload_bytes_for

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docker"))  # docker/ holds scripts, not a package
from cluster import NGINX_CONF, render

MANIFESTS = sorted((REPO / "docker" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]  # an older cluster, the newest schema


def test_compose_file_parses_and_runs_the_tested_nginx_config():
    subprocess.run(["docker-compose", "config", "-q"], cwd=REPO, check=True)
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    # nginx starts once every replica is ready (the replicas' health check is /readyz)
    assert services["nginx"]["depends_on"] == {"separator": {"condition": "service_healthy"}}
    assert services["separator"]["healthcheck"]["test"][-1] == "/readyz"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda path: path.name)
def test_kubernetes_manifest_is_valid(manifest, version):
    for resource in yaml.safe_load_all(manifest.read_text()):
        kubernetes_validate.validate(resource, version, strict=True)


def test_kubernetes_pods_take_one_gpu_and_outlast_their_drain():
    (deployment,) = yaml.safe_load_all((REPO / "docker/kubernetes/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    pre_stop_s = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    # The drain comes after preStop and lasts until every accepted request is answered: at most the request timeout.
    assert pod["terminationGracePeriodSeconds"] > pre_stop_s + Settings().request_timeout_s
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert int(services["separator"]["stop_grace_period"].removesuffix("s")) > Settings().request_timeout_s


def test_nginx_body_limit_is_the_services():
    config = NGINX_CONF.read_text()
    limit = upload_bytes_for(Settings.model_fields["max_seconds"].default)  # the default, derived from it
    assert int(re.search(r"client_max_body_size (\d+);", config)[1]) == limit
    # nginx's own 413, worded like the service's
    assert f"the request body is over {limit} bytes (set TEXTSEP_MAX_UPLOAD_BYTES to raise it)" in config


def test_nginx_keeps_a_client_request_id_by_the_services_rule():
    (pattern,) = re.findall(r'"~\^(.*)\$" \$http_x_request_id;', NGINX_CONF.read_text())
    assert pattern == CLIENT_REQUEST_ID.pattern


def test_local_nginx_config_differs_from_the_shipped_one_in_addresses_only():
    shipped = NGINX_CONF.read_text()
    local = render(shipped, "127.0.0.1:9000", ["127.0.0.1:9001", "127.0.0.1:9002"])
    changes = [line for line in difflib.ndiff(shipped.splitlines(), local.splitlines()) if line[:2] in ("- ", "+ ")]
    options = re.search(r"server separator:8000( [^;]*);", shipped)[1]  # passive health check parameters
    assert [change[:2] + change[2:].strip() for change in changes] == [
        f"- server separator:8000{options};",
        f"+ server 127.0.0.1:9001{options};",
        f"+ server 127.0.0.1:9002{options};",
        "- listen 80;",
        "+ listen 127.0.0.1:9000;",
    ]


def test_deployment_files_set_only_settings_the_service_reads():
    settings = {env_name(field) for field in Settings.model_fields}
    files = [REPO / "Dockerfile", REPO / "docker-compose.yml", *MANIFESTS, *(REPO / "docker").glob("*.py")]
    for path in files:
        assert set(re.findall(r"\bTEXTSEP_[A-Z_]+\b", path.read_text())) <= settings, path.name


def test_the_wheel_and_the_image_carry_inference_code_and_weights_only(tmp_path):
    """Training, benchmarks and tests are not the serving package: neither the wheel nor the
    Docker build context (what .dockerignore lets through) holds them."""
    source = tmp_path / "clone"  # the tree as a clone has it: no build/ or egg-info of an editable install
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    for name in listed.stdout.splitlines():
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("textsep-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("textsep-")}
    assert packages == {"model", "service"}
    for shipped in ["model/weights/bundled-small.pt", "model/weights/bundled-small-query-audio.pt",
                    "model/encoders/clap.py", "service/static/index.html"]:  # fmt: skip
        assert shipped in names

    ignore = (REPO / ".dockerignore").read_text().split()
    copied = re.findall(r"^COPY (?!--)(\S+)", (REPO / "Dockerfile").read_text(), re.M)
    assert set(copied) <= {"pyproject.toml", "model", "service"}
    assert "!training/" not in ignore and "!bench/" not in ignore
    assert "!model/weights/bundled-small-query-audio.pt" in ignore  # query by example works in the image too
