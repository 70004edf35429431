"""Credentials and profile problems, as real AWS set-ups produce them: one line naming the fix, exit 2.

Each case is a real AWS config file read by the real botocore credential chain (HOME and the
config files point into tmp_path, the instance metadata service is off), and the CLI runs
against the embedded EC2 cloud. No call may reach the cloud: the chain fails first.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SSO_PROFILE = """\
[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = NetworkAdmin
region = us-east-1
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""

LEGACY_SSO_PROFILE = """\
[profile dev]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = NetworkAdmin
region = us-east-1
"""

# A credential_process that fails the way a broken token helper does: a message, a non-zero exit.
PROCESS_PROFILE = f"""\
[profile dev]
credential_process = {sys.executable} -c "import sys; sys.exit('vault: token expired')"
region = us-east-1
"""

CASES = [
    pytest.param("", "AWS profile dev not found: run `aws configure --profile dev`", id="no-such-profile"),
    pytest.param(
        SSO_PROFILE, "the AWS SSO session of profile dev is missing or expired: run `aws sso login --profile dev`",
        id="sso-not-logged-in",
    ),
    pytest.param(
        LEGACY_SSO_PROFILE,
        "the AWS SSO session of profile dev is missing or expired: run `aws sso login --profile dev`",
        id="legacy-sso-not-logged-in",
    ),
    pytest.param(
        PROCESS_PROFILE, "AWS profile dev cannot give credentials: fix it, e.g. `aws configure --profile dev`",
        id="credential-process-fails",
    ),
]  # fmt: skip


@pytest.fixture
def profile(world, monkeypatch, tmp_path):
    """Point the credential chain at a config file of the test's making, and nowhere else."""

    def use(config_text: str, name: str = "dev") -> None:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        (tmp_path / "aws-config").write_text(config_text)
        monkeypatch.setenv("HOME", str(tmp_path))  # ~/.aws/sso/cache: empty
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_PROFILE", name)

    return use


@pytest.mark.parametrize(("config_text", "says"), CASES)
@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]], ids=lambda c: c[0])
def test_a_credentials_problem_is_one_line_naming_the_fix(world, cli, profile, config_text, says, command):
    config = world.write_config()
    profile(config_text)
    world.sim.reset_calls()

    result = cli(*command, "--config", config)

    assert result.exit_code == 2, result.output
    assert result.output.strip().count("\n") == 0, f"one line, no traceback: {result.output}"
    assert result.output.startswith(f"error: {says}"), result.output
    assert world.sim.calls == [], "nothing reached the cloud"


@pytest.mark.parametrize(("config_text", "says"), CASES)
def test_stderr_is_that_one_line_in_a_real_process(world, profile, config_text, says):
    """In its own process, as cron runs it: botocore's own log lines (a failed SSO refresh logs a
    traceback at WARNING) would land on stderr too, which an in-process run cannot see."""
    config = world.write_config()
    profile(config_text)
    result = subprocess.run(
        [sys.executable, "-m", "cloudroutes", "status", "--config", config],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {says}") and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_the_failing_helper_s_own_words_follow_the_fix(world, cli, profile):
    config = world.write_config()
    profile(PROCESS_PROFILE)
    result = cli("plan", "--config", config)
    assert result.exit_code == 2 and "vault: token expired" in result.output


def test_the_fix_names_the_profile_the_config_chose(world, cli, profile, monkeypatch):
    """aws.profile in the config, not AWS_PROFILE: the line still names the profile in use."""
    profile(SSO_PROFILE)
    monkeypatch.delenv("AWS_PROFILE")
    config = world.path / "cloudroutes.toml"
    config.write_text(world.config_text().replace("[aws]\n", '[aws]\nprofile = "dev"\n'))
    result = cli("plan", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "run `aws sso login --profile dev`" in result.output


def test_the_aws_profile_flag_chooses_the_profile(world, cli, profile, monkeypatch):
    """--aws-profile, like aws.profile: the run uses that profile of the AWS config files (here an
    SSO profile not logged in, so the one line names it) and nothing reaches the cloud."""
    profile(SSO_PROFILE)
    monkeypatch.delenv("AWS_PROFILE")
    world.sim.reset_calls()
    result = cli("plan", "--config", world.write_config(), "--aws-profile", "dev")
    assert result.exit_code == 2, result.output
    assert "run `aws sso login --profile dev`" in result.output
    assert world.sim.calls == []
