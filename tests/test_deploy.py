"""The production settings and the compose file.

``manage.py check --deploy`` with the settings of ``deploy/odr.env.example`` (its placeholder secrets
replaced by generated ones) reports no warning at all; and the compose file runs what the README says:
the migrations once before the web and the workers, exactly one beat, the web's health check, volumes for
the database and the evidence, one image for every part.
"""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            values[key] = value
    return values


def production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODR_", "DJANGO_"))}
    env.update(env_file(ROOT / "deploy" / "odr.env.example"))
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ODR_EVIDENCE_KEYS="k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        ODR_EVIDENCE_DIR=str(ROOT / "var" / "deploy-check-evidence"),
        DEBUG="0",
    )
    return env


def test_production_settings_pass_the_deploy_check_without_a_warning():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deploy_check_catches_a_missing_https_setting():
    """The check above can fail: the same settings without ODR_HTTPS warn about HSTS and the redirect."""
    env = production_env()
    env["ODR_HTTPS"] = "0"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_the_compose_file_migrates_once_first_and_runs_exactly_one_beat():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    app = {"web", "worker", "beat", "migrate"}
    # One image for all, settings from the env file, the evidence on a volume.
    assert {services[s]["image"] for s in app} == {"odr:latest"}
    for name in app:
        assert services[name]["env_file"] == "deploy/odr.env"
        assert "evidence:/srv/odr/evidence" in services[name]["volumes"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "celery" in services["beat"]["command"] and "beat" in services["beat"]["command"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "--workers" in services["web"]["command"][-1]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert set(compose["volumes"]) == {"pgdata", "evidence"}


def test_the_env_example_names_every_secret_to_change():
    example = env_file(ROOT / "deploy" / "odr.env.example")
    for key in ("SECRET_KEY", "POSTGRES_PASSWORD", "ODR_EVIDENCE_KEYS"):
        assert "change-me" in example[key]
    assert example["ODR_HTTPS"] == "1"
    assert "deploy/odr.env" in (ROOT / ".gitignore").read_text().split()


def test_the_health_check_answers_the_probe_on_the_process_address(client, settings):
    """The compose health check asks http://127.0.0.1:8000/healthz; the site's hosts do not include that."""
    settings.ALLOWED_HOSTS = ["odr.example.org"]
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").json() == {"status": "ok"}
    assert client.get("/", HTTP_HOST="127.0.0.1:8000").status_code == 400
