"""deploy/kubernetes/: valid against the Kubernetes JSON schemas, offline, and wired together.

kubernetes-validate bundles the schemas of each Kubernetes release; strict validation refuses a
field the schema does not know (a misspelt `readinessProbe` would otherwise be silently ignored by
the API server's older clients). Beyond the schemas: the probes reach /readyz and /healthz as the
issuer's host, the Secret holds the files the *_FILE variables name, the Service and the
PodDisruptionBudget select the web pods, and every variable is one Porchlight reads.
"""

import copy
from functools import cache
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]  # ships no types
import pytest
import yaml

from tests.deploy.settings_names import variables
from tests.environment import ROOT

FOLDER = ROOT / "deploy" / "kubernetes"
# The oldest release the manifests are meant for (policy/v1 PDBs, batch/v1 Job TTLs, pod
# seccompProfile are all older), and the newest whose schemas the package ships.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


@cache
def documents() -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def pod_spec(kind: str, name: str) -> dict:
    return documents()[(kind, name)]["spec"]["template"]["spec"]


WORKLOADS = [
    ("Deployment", "porchlight-web"),
    ("Deployment", "porchlight-worker"),
    ("Job", "porchlight-migrate"),
]


@pytest.mark.parametrize("version", VERSIONS)
def test_kubernetes_manifests_are_valid_against_the_schemas(version: str) -> None:
    for (kind, name), document in documents().items():
        kubernetes_validate.validate(document, version, strict=True)
    # The validation can fail: a field no schema knows is refused.
    broken = copy.deepcopy(documents()[("Deployment", "porchlight-web")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_kubernetes_kustomization_lists_every_manifest_but_the_secret() -> None:
    kustomization = yaml.safe_load((FOLDER / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in FOLDER.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.yaml"}


def test_kubernetes_web_pods_are_probed_on_readyz_and_healthz_as_the_issuer() -> None:
    issuer = documents()[("ConfigMap", "porchlight")]["data"]["PORCHLIGHT_ISSUER"]
    (container,) = pod_spec("Deployment", "porchlight-web")["containers"]
    assert container["args"] == ["serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == "http"
        assert get["httpHeaders"] == [{"name": "Host", "value": urlsplit(issuer).hostname}]
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    ingress = documents()[("Ingress", "porchlight")]["spec"]
    assert [rule["host"] for rule in ingress["rules"]] == [urlsplit(issuer).hostname]
    assert urlsplit(issuer).scheme == "https"


def test_kubernetes_service_and_disruption_budget_select_the_web_pods() -> None:
    web = documents()[("Deployment", "porchlight-web")]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = documents()[("Service", "porchlight")]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    budget = documents()[("PodDisruptionBudget", "porchlight-web")]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] < web["spec"]["replicas"]
    worker_labels = documents()[("Deployment", "porchlight-worker")]["spec"]["template"]["metadata"]["labels"]
    assert not service["selector"].items() <= worker_labels.items()


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_kubernetes_workloads_run_the_image_locked_down(kind: str, name: str) -> None:
    spec = pod_spec(kind, name)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    # The only writable place the image needs.
    assert "emptyDir" in volumes[mounts["/tmp"]]
    requests = container["resources"]["requests"]
    assert requests["cpu"] and requests["memory"]
    assert container["resources"]["limits"]["memory"]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_kubernetes_secrets_are_files_the_file_variables_name(kind: str, name: str) -> None:
    spec = pod_spec(kind, name)
    (container,) = spec["containers"]
    secret = documents()[("Secret", "porchlight")]
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    (volume,) = [volume for volume in spec["volumes"] if "secret" in volume]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    files = {f"{mounts[volume['name']]}/{key}" for key in secret["stringData"]}
    named = {item["name"]: item["value"] for item in container["env"]}
    assert named == {
        "PORCHLIGHT_SECRET_KEY_FILE": f"{mounts[volume['name']]}/secret-key",
        "PORCHLIGHT_KEY_ENCRYPTION_KEY_FILE": f"{mounts[volume['name']]}/key-encryption-key",
        "DATABASE_URL_FILE": f"{mounts[volume['name']]}/database-url",
    }
    assert set(named.values()) == files
    # No secret value is committed: left empty, start-up stops naming the variable.
    assert set(secret["stringData"].values()) == {""}
    assert [source["configMapRef"]["name"] for source in container["envFrom"]] == ["porchlight"]


def test_kubernetes_variables_are_ones_porchlight_reads() -> None:
    config = documents()[("ConfigMap", "porchlight")]["data"]
    assert set(config) <= variables(), set(config) - variables()
    assert config["PORCHLIGHT_BEHIND_PROXY"] == "true"
    # Under Granian, X-Forwarded-* is accepted only from a proxy that drops underscore headers.
    if config.get("PORCHLIGHT_SERVER") == "granian" and config.get("PORCHLIGHT_PROXY_HEADERS") != "forwarded":
        assert config["PORCHLIGHT_PROXY_DROPS_UNDERSCORE_HEADERS"] == "true"
    for kind, name in WORKLOADS:
        (container,) = pod_spec(kind, name)["containers"]
        assert {item["name"] for item in container["env"]} <= variables()


def test_kubernetes_migration_job_and_worker_run_their_commands() -> None:
    (job,) = pod_spec("Job", "porchlight-migrate")["containers"]
    steps = [step.strip().split() for step in job["args"][0].split("&&")]
    assert steps == [
        ["/opt/porchlight/entrypoint", "migrate", "--no-input"],
        ["/opt/porchlight/entrypoint", "rotatekeys"],
        ["/opt/porchlight/entrypoint", "housekeeping", "--schedule"],
    ]
    (worker,) = pod_spec("Deployment", "porchlight-worker")["containers"]
    assert worker["args"] == ["db_worker", "--no-reload"]
    images = {pod_spec(kind, name)["containers"][0]["image"] for kind, name in WORKLOADS}
    assert len(images) == 1, images
