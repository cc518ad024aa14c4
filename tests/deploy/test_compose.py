"""deploy/compose/: every service, variable, secret, health check and start-up order, read offline.

No compose tool runs here: the file is parsed as Compose reads it (YAML anchors and merge keys,
then `${NAME}`, `${NAME:-default}` and `${NAME:?message}` from the environment), and nginx.conf is
read for what Porchlight's proxy settings rely on.
"""

import ipaddress
import re
from functools import cache

import pytest
import yaml
from django.core.management import get_commands

from tests.deploy.settings_names import variables
from tests.environment import ROOT

FOLDER = ROOT / "deploy" / "compose"
PORCHLIGHT = {"migrate", "web1", "web2", "worker"}
ENVIRONMENT = {"PORCHLIGHT_ISSUER": "https://id.example.com"}
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}")


def interpolate(value: object, environment: dict[str, str]) -> object:
    """Replace Compose's variable references in every string of ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if environment.get(name):
            return environment[name]
        if operator == ":?":
            raise LookupError(f"{name}: {argument}")
        return argument or ""

    return REFERENCE.sub(replace, value)


@cache
def raw() -> dict:
    return yaml.safe_load((FOLDER / "compose.yaml").read_text())


def compose(environment: dict[str, str] = ENVIRONMENT) -> dict:
    return interpolate(raw(), environment)  # type: ignore[return-value]


def nginx() -> str:
    return (FOLDER / "nginx.conf").read_text()


def test_compose_has_every_service_of_the_deployment() -> None:
    assert set(compose()["services"]) == PORCHLIGHT | {"postgres", "redis", "proxy"}
    # Compose 1.x (Debian's docker-compose, which tests/deploy/test_compose_up.py runs it with)
    # refuses any top-level key but these; the project is named by `-p`.
    assert set(raw()) <= {"version", "services", "networks", "volumes", "secrets", "configs"} | {
        key for key in raw() if key.startswith("x-")
    }


def test_compose_needs_the_issuer() -> None:
    with pytest.raises(LookupError, match="PORCHLIGHT_ISSUER"):
        compose({})


def test_compose_images_default_to_the_official_ones_and_can_be_chosen() -> None:
    services = raw()["services"]
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-docker.io/library/postgres:16}"
    assert services["redis"]["image"] == "${REDIS_IMAGE:-docker.io/library/redis:7}"
    assert services["proxy"]["image"] == "${PROXY_IMAGE:-docker.io/library/nginx:1.27}"
    chosen = compose({**ENVIRONMENT, "POSTGRES_IMAGE": "localhost/postgres:15"})["services"]
    assert chosen["postgres"]["image"] == "localhost/postgres:15"
    assert {services[name]["image"] for name in PORCHLIGHT} == {
        "${PORCHLIGHT_IMAGE:-localhost/porchlight:0.1.0}"
    }


def test_compose_porchlight_services_read_only_variables_porchlight_reads() -> None:
    services = compose()["services"]
    for name in PORCHLIGHT:
        environment = services[name]["environment"]
        assert set(environment) <= variables(), (name, set(environment) - variables())
        assert environment["PORCHLIGHT_ISSUER"] == "https://id.example.com"
        assert services[name]["read_only"] is True
        assert services[name]["tmpfs"] == ["/tmp"]
        assert "user" not in services[name]  # the image's own, 10001


def test_compose_secrets_are_files_the_file_variables_name() -> None:
    document = compose()
    declared = document["secrets"]
    for name, service in document["services"].items():
        environment = service.get("environment", {})
        named = {key: value for key, value in environment.items() if key.endswith("_FILE")}
        mounted = {f"/run/secrets/{secret}" for secret in service.get("secrets", [])}
        assert set(named.values()) == mounted, name
        for secret in service.get("secrets", []):
            assert declared[secret]["file"] == f"./secrets/{secret}"
    porchlight = document["services"]["web1"]["environment"]
    for secret in ("PORCHLIGHT_SECRET_KEY", "PORCHLIGHT_KEY_ENCRYPTION_KEY", "DATABASE_URL"):
        assert f"{secret}_FILE" in porchlight and secret not in porchlight


def test_compose_health_checks() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "web1", "web2", "proxy"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["web1"]["healthcheck"]["test"][1:] == [
        "/opt/porchlight/venv/bin/python",
        "/opt/porchlight/healthcheck.py",
    ]
    # A worker or a one-off has no server for the image's HEALTHCHECK to reach.
    for name in ("migrate", "worker"):
        assert services[name]["healthcheck"] == {"disable": True}
    assert "location = /nginx-health" in nginx()


def start_order(services: dict) -> list[str]:
    """Return the services in an order Compose can start them, waiting as each depends_on says."""
    order: list[str] = []
    while len(order) < len(services):
        ready = [
            name
            for name, service in services.items()
            if name not in order and set(service.get("depends_on", {})) <= set(order)
        ]
        assert ready, f"depends_on has a cycle among {set(services) - set(order)}"
        order += sorted(ready)
    return order


def test_compose_start_order_waits_for_health_and_the_migration() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, (name, target)
            if condition["condition"] == "service_healthy":
                assert not services[target]["healthcheck"].get("disable"), (name, target)
            else:
                assert condition["condition"] == "service_completed_successfully"
                assert target == "migrate"
    order = start_order(services)
    assert order.index("postgres") < order.index("migrate")
    for name in ("web1", "web2", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert order.index("migrate") < order.index(name) < order.index("proxy")
    assert services["proxy"]["depends_on"] == {
        "web1": {"condition": "service_healthy"},
        "web2": {"condition": "service_healthy"},
    }


def test_compose_commands_are_porchlights() -> None:
    services = compose()["services"]
    commands = set(get_commands())
    assert services["web1"]["command"] == services["web2"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["db_worker", "--no-reload"]
    steps = [step.strip().split() for step in services["migrate"]["command"][0].split("&&")]
    assert [step[0] for step in steps] == ["/opt/porchlight/entrypoint"] * 3
    assert [step[1] for step in steps] == ["migrate", "rotatekeys", "housekeeping"]
    assert {step[1] for step in steps} | {"serve", "db_worker"} <= commands


def test_compose_trusts_the_proxy_alone_and_it_speaks_forwarded() -> None:
    document = compose()
    environment = document["services"]["web1"]["environment"]
    proxy = document["services"]["proxy"]
    address = ipaddress.ip_address(proxy["networks"]["porchlight"]["ipv4_address"])
    subnet = ipaddress.ip_network(document["networks"]["porchlight"]["ipam"]["config"][0]["subnet"])
    assert address in subnet
    assert environment["PORCHLIGHT_BEHIND_PROXY"] == "true"
    assert [ipaddress.ip_network(environment["PORCHLIGHT_TRUSTED_PROXIES"])] == [
        ipaddress.ip_network(f"{address}/32")
    ]
    moved = compose({**ENVIRONMENT, "PROXY_ADDRESS": "172.30.80.20"})
    assert moved["services"]["web2"]["environment"]["PORCHLIGHT_TRUSTED_PROXIES"] == "172.30.80.20/32"
    # Under Granian the proxy describes the client in RFC 7239's Forwarded, which nginx writes
    # itself (replacing the client's), and header names with an underscore never pass.
    assert environment["PORCHLIGHT_SERVER"] == "granian"
    assert environment["PORCHLIGHT_PROXY_HEADERS"] == "forwarded"
    config = nginx()
    assert "underscores_in_headers off;" in config
    assert 'proxy_set_header Forwarded "for=$forwarded_for;proto=$scheme;host=\\"$host\\"";' in config
    assert re.findall(r"server (web\d):8000", config) == ["web1", "web2"]
    assert "listen 443 ssl;" in config
    assert set(proxy["ports"]) == {"443:443", "80:80"}
