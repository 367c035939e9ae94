"""deploy/ (issue 17, part 5): the manifests, linted on a machine with no container engine.

- every YAML file parses; the compose file is valid against the Compose specification (the
  schema check-jsonschema ships), the Kubernetes manifests against Kubernetes' own schemas
  (kubernetes-validate ships them), and the Temporal Helm values use only keys of the chart's
  values.yaml (vendored in deploy/schemas/; the chart has no values.schema.json);
- the compose services refer to each other consistently: depends_on, addresses, the Web UI's
  codec endpoint and the codec server's allowed origin against the published ports, the files
  they mount; the Kubernetes manifests and the Helm values agree likewise.

Nothing is downloaded: the schemas come from the pinned test packages and deploy/schemas/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import (
    CHART_DEFAULTS,
    CHART_VERSION,
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    HELM_RELEASE,
    HELM_VALUES,
    K8S_FILE,
    KUBERNETES_VERSION,
    compose,
    dockerfile_env,
    dockerfile_stages,
    environment,
    host_port,
    load_all,
    published,
    services,
    setting_names,
)

# --- (a) every YAML parses; the schemas -----------------------------------------------------------


def test_every_yaml_file_in_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {COMPOSE_FILE, K8S_FILE, HELM_VALUES, CHART_DEFAULTS} <= set(files)
    for path in files:
        assert load_all(path), f"{path} is empty"


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text(encoding="utf-8"))
    return schema


def compose_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert compose_errors(compose()) == []
    # The check has teeth: a misspelt key and a condition Compose does not know are refused.
    broken = compose()
    broken["services"]["temporal"]["depend_on"] = ["postgresql"]
    broken["services"]["temporal-ui"]["depends_on"]["temporal"]["condition"] = "service_ready"
    assert len(compose_errors(broken)) >= 2


def test_kubernetes_manifests_are_valid_against_kubernetes_schemas() -> None:
    docs = load_all(K8S_FILE)
    assert {d["kind"] for d in docs} == {"ConfigMap", "Deployment", "Service"}
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    broken = next(d for d in load_all(K8S_FILE) if d["kind"] == "Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def key_paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, str(key)), child
            yield from key_paths(child, (*prefix, str(key)))


def datastore_keys(defaults_text: str) -> set[str]:
    """The keys the chart documents (in comments) for a datastore's sql/cassandra/elasticsearch."""
    section = defaults_text.split("\n      datastores:", 1)[1].split("\n    metrics:", 1)[0]
    return set(re.findall(r"^\s*#\s+([A-Za-z][\w-]*):", section, flags=re.MULTILINE))


def test_helm_values_use_only_keys_of_the_temporal_chart() -> None:
    text = CHART_DEFAULTS.read_text(encoding="utf-8")
    assert re.search(r"helm-charts/blob/[0-9a-f]{40}/charts/temporal/values\.yaml", text)
    values_text = HELM_VALUES.read_text(encoding="utf-8")
    assert re.search(rf"chart version\s*#?\s*{re.escape(CHART_VERSION)}\b", values_text)
    assert f"--version {CHART_VERSION}" in values_text
    defaults = yaml.safe_load(text)
    values = yaml.safe_load(values_text)
    documented = datastore_keys(text)
    assert {"pluginName", "connectAddr", "existingSecret", "manageSchema", "createDatabase"} <= documented
    datastores = ("server", "config", "persistence", "datastores")
    unknown = []
    for path, child in key_paths(values):
        if path[: len(datastores)] == datastores and len(path) > len(datastores):
            # Free-form in the chart (its defaults are null); the keys must be ones it documents.
            store_part = path[len(datastores) :]
            if len(store_part) == 1:
                continue  # the store's own name (default, visibility)
            if store_part[-1] not in documented:
                unknown.append(".".join(path))
            continue
        node: Any = defaults
        for key in path:
            if not isinstance(node, dict) or key not in node:
                unknown.append(".".join(path))
                break
            node = node[key]
        else:
            if isinstance(child, list) and node:
                allowed = set().union(*(item.keys() for item in node if isinstance(item, dict)))
                unknown += [f"{'.'.join(path)}[].{k}" for item in child for k in item if k not in allowed]
            elif isinstance(child, list):  # additionalEnv and the like: Kubernetes EnvVars
                unknown += [f"{'.'.join(path)}[].{k}" for item in child for k in item if k not in {"name", "value"}]
    assert unknown == []
    persistence = values["server"]["config"]["persistence"]
    for store in (persistence["defaultStore"], persistence["visibilityStore"]):
        sql = persistence["datastores"][store]["sql"]
        assert sql["pluginName"] == "postgres12" and sql["manageSchema"] and sql["existingSecret"]
    assert persistence["numHistoryShards"] == defaults["server"]["config"]["persistence"]["numHistoryShards"]


# --- (b) the services refer to each other consistently --------------------------------------------


def test_compose_services_depend_on_services_that_exist() -> None:
    svc = services()
    for name, service in svc.items():
        depends = service.get("depends_on", {})
        for other, condition in depends.items() if isinstance(depends, dict) else ((d, None) for d in depends):
            assert other in svc, f"{name} depends on {other}, which is not a service"
            if condition and condition.get("condition") == "service_healthy":
                assert "healthcheck" in svc[other], f"{name} waits for {other} to be healthy; it has no healthcheck"
    # The order: database, schema, server, namespace, worker.
    assert svc["temporal"]["depends_on"]["temporal-admin-tools"]["condition"] == "service_completed_successfully"
    assert svc["complaints-worker"]["depends_on"]["temporal-create-namespace"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_images_are_pinned_and_temporal_versions_agree() -> None:
    svc = services()
    for name, service in svc.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), (name, image)
    server_version = svc["temporal"]["image"].split(":")[1]
    assert svc["temporal-admin-tools"]["image"] == f"temporalio/admin-tools:{server_version}"
    assert svc["temporal-create-namespace"]["image"] == f"temporalio/admin-tools:{server_version}"
    built = [s for s in svc.values() if "build" in s]
    assert len(built) == 1
    build = built[0]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    # The codec server is the worker's image with another command.
    assert svc["complaints-codec"]["image"] == built[0]["image"]


def test_compose_addresses_name_services_and_their_ports() -> None:
    svc = services()
    ui, codec, worker = svc["temporal-ui"], svc["complaints-codec"], svc["complaints-worker"]
    frontend_port = next(iter(published(svc["temporal"])))
    for name, key in (("temporal-ui", "TEMPORAL_ADDRESS"), ("complaints-worker", "COMPLAINTS_TEMPORAL_ADDRESS")):
        assert host_port(environment(svc[name])[key]) == ("temporal", frontend_port)
    assert host_port(environment(svc["temporal-create-namespace"])["TEMPORAL_ADDRESS"]) == ("temporal", frontend_port)
    for name in ("temporal", "temporal-admin-tools"):
        env = environment(svc[name])
        assert env["POSTGRES_SEEDS"] == "postgresql" and env["DB"] == "postgres12"
        assert env["POSTGRES_USER"] == environment(svc["postgresql"])["POSTGRES_USER"]
        assert env["POSTGRES_PWD"] == environment(svc["postgresql"])["POSTGRES_PASSWORD"]

    # The browser reaches the codec server at its published port, from the Web UI's published origin.
    codec_env, ui_env = environment(codec), environment(ui)
    listen_host, listen_port = host_port(codec_env["COMPLAINTS_CODEC_ADDRESS"])
    assert listen_host == "0.0.0.0", "a codec server on 127.0.0.1 cannot be reached from outside its container"
    endpoint = urlsplit(ui_env["TEMPORAL_CODEC_ENDPOINT"])
    assert (endpoint.hostname, endpoint.port) == ("localhost", published(codec)[listen_port])
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == codec_env["COMPLAINTS_CODEC_URL"]
    assert ui_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"  # the sign-in cookie goes with each call
    assert codec_env["COMPLAINTS_CODEC_UI_ORIGIN"] == f"http://localhost:{published(ui)[8080]}"
    health = " ".join(codec["healthcheck"]["test"])
    assert f":{listen_port}/health" in health

    # The worker's and the codec server's shared settings, the same namespace everywhere.
    worker_env = environment(worker)
    for key in ("COMPLAINTS_CODEC_KEYS", "COMPLAINTS_CODEC_LOGIN_SECRET", "COMPLAINTS_DATABASE_URL"):
        assert worker_env[key] == codec_env[key]
    namespace = worker_env["COMPLAINTS_NAMESPACE"]
    assert environment(svc["temporal-create-namespace"])["DEFAULT_NAMESPACE"] == namespace
    assert ui_env["TEMPORAL_DEFAULT_NAMESPACE"] == namespace

    # The projection database is the one (and the role) that postgres/init-complaints.sql makes.
    url = urlsplit(worker_env["COMPLAINTS_DATABASE_URL"])
    assert (url.hostname, url.port) == ("postgresql", 5432)
    init_sql = (DEPLOY / "postgres" / "init-complaints.sql").read_text(encoding="utf-8")
    assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'" in init_sql
    assert f"CREATE DATABASE {url.path.lstrip('/')} OWNER {url.username}" in init_sql

    hosts = [port for service in svc.values() for port in published(service).values()]
    assert len(hosts) == len(set(hosts)), "two services publish the same host port"


def test_compose_mounts_and_scripts_exist() -> None:
    data = compose()
    for name, service in data["services"].items():
        mounts: dict[str, Path] = {}
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
                mounts[target] = DEPLOY / source
            else:
                assert source in data["volumes"], f"{name} uses the undeclared volume {source}"
        for network in service.get("networks", []):
            assert network in data["networks"]
        command = service.get("command", [])
        for word in command if isinstance(command, list) else command.split():
            for target, source in mounts.items():
                if word.startswith(target + "/"):
                    assert (source / word[len(target) + 1 :]).is_file(), f"{name} runs {word}, which is not there"
    temporal = data["services"]["temporal"]
    dynamic = environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]  # relative to /etc/temporal
    mount = next(v for v in temporal["volumes"] if v.split(":")[1] == "/etc/temporal/config/dynamicconfig")
    assert (DEPLOY / mount.split(":")[0] / Path(dynamic).name).is_file()
    assert dynamic.startswith("config/dynamicconfig/")
    assert load_all(DEPLOY / "dynamicconfig" / Path(dynamic).name)


def test_setup_scripts_are_valid_shell_and_use_temporal_sql_tool() -> None:
    sh = shutil.which("sh")
    assert sh
    for script in sorted((DEPLOY / "scripts").glob("*.sh")):
        result = subprocess.run([sh, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
    setup = (DEPLOY / "scripts" / "setup-postgres.sh").read_text(encoding="utf-8")
    for database in ("temporal", "temporal_visibility"):
        assert f"--db {database} update-schema" in setup


def test_settings_named_in_deploy_exist() -> None:
    known = setting_names()
    texts = [p.read_text(encoding="utf-8") for p in (COMPOSE_FILE, K8S_FILE, DOCKERFILE, DEPLOY / "env.example")]
    named = {n for t in texts for n in re.findall(r"\bCOMPLAINTS_[A-Z0-9_]*[A-Z0-9]\b", t)}
    assert named - known == set()
    assert {"COMPLAINTS_TEMPORAL_TLS_CA", "COMPLAINTS_TEMPORAL_API_KEY"} <= named


def test_kubernetes_manifests_and_helm_values_agree() -> None:
    docs = load_all(K8S_FILE)
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    service = next(d for d in docs if d["kind"] == "Service")
    values = yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))
    defaults = yaml.safe_load(CHART_DEFAULTS.read_text(encoding="utf-8"))
    data = config["data"]

    frontend_port = defaults["server"]["frontend"]["service"]["port"]
    assert data["COMPLAINTS_TEMPORAL_ADDRESS"] == f"{HELM_RELEASE}-frontend:{frontend_port}"
    assert data["COMPLAINTS_NAMESPACE"] in {n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]}
    web_env = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    assert web_env["TEMPORAL_CODEC_ENDPOINT"] == data["COMPLAINTS_CODEC_URL"]
    assert web_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert web_env["TEMPORAL_DEFAULT_NAMESPACE"] == data["COMPLAINTS_NAMESPACE"]

    image = services()["complaints-worker"]["image"]
    uid = re.search(r"useradd [^\n]*--uid (\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert uid
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        assert pod["spec"]["securityContext"]["runAsUser"] == int(uid.group(1))
        (container,) = pod["spec"]["containers"]
        assert container["image"] == image, name
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {"complaints-config", "complaints-secrets"}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in container:
                action = container[probe].get("httpGet") or container[probe].get("tcpSocket")
                assert action["port"] in ports, f"{name}'s {probe} names no port of it"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert "livenessProbe" in container
    worker = deployments["complaints-worker"]["spec"]
    assert worker["replicas"] >= 2
    # The probes' port is where the worker serves its metrics.
    (worker_container,) = worker["template"]["spec"]["containers"]
    metrics = {e["name"]: e["value"] for e in worker_container["env"]}["COMPLAINTS_METRICS_ADDRESS"]
    assert metrics == dockerfile_env(dockerfile_stages()[-1])["COMPLAINTS_METRICS_ADDRESS"]
    port = {p["name"]: p["containerPort"] for p in worker_container["ports"]}["metrics"]
    assert host_port(metrics) == ("0.0.0.0", port)
    assert worker_container["livenessProbe"]["tcpSocket"]["port"] == "metrics"
    codec = deployments["complaints-codec"]["spec"]["template"]
    assert codec["spec"]["containers"][0]["command"] == services()["complaints-codec"]["entrypoint"]
    assert service["spec"]["selector"].items() <= codec["metadata"]["labels"].items()
    codec_port = host_port(data["COMPLAINTS_CODEC_ADDRESS"])
    assert codec_port == ("0.0.0.0", codec["spec"]["containers"][0]["ports"][0]["containerPort"])
