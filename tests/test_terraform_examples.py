"""terraform-examples/ stay formatted, valid where a provider plugin is at hand, and in step with
the names the product reads (tags, labels, IAM actions)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cloudroutes.providers import aws, gce_errors, gce_names

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "terraform-examples"
PLUGIN_DIR = Path(os.environ.get("CLOUDROUTES_TF_PLUGIN_DIR", "/opt/tf-plugins"))
TERRAFORM = shutil.which("terraform")
ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


def needs_terraform() -> None:
    if TERRAFORM is None:
        print("skipping: no terraform binary on this machine")
        pytest.skip("no terraform binary on this machine")


def test_examples_are_formatted():
    needs_terraform()
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", str(EXAMPLES)], env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_aws_example_validates_with_a_local_provider(tmp_path):
    needs_terraform()
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        print(f"skipping: no hashicorp/aws plugin under {PLUGIN_DIR} (no registry access here)")
        pytest.skip(f"no hashicorp/aws plugin under {PLUGIN_DIR}")
    work = tmp_path / "aws"
    shutil.copytree(EXAMPLES / "aws", work)
    init = subprocess.run(
        [TERRAFORM, "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"],
        cwd=work,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = subprocess.run([TERRAFORM, "validate", "-json"], cwd=work, env=ENV, capture_output=True, text=True)
    assert json.loads(validate.stdout)["valid"], validate.stdout


def test_aws_example_speaks_the_products_names():
    text = (EXAMPLES / "aws" / "main.tf").read_text()
    assert aws.CIDR_TAG in text and aws.CIDR_TAG_V6 in text
    assert "kubernetes.io/cluster/${var.cluster}" in text


def test_the_aws_example_attaches_the_shipped_policy_with_every_blank_filled():
    iam_tf = (EXAMPLES / "aws" / "iam.tf").read_text()
    assert 'templatefile("${path.module}/iam-policy.json"' in iam_tf
    blanks = set(re.findall(r"\$\{(\w+)\}", (EXAMPLES / "aws" / "iam-policy.json").read_text()))
    assert blanks == {"cluster_name", "vpc_id"}
    assert all(re.search(rf"^\s*{b}\s*=", iam_tf, re.M) for b in blanks), iam_tf
    assert "aws_iam_policy_document" not in (EXAMPLES / "aws" / "main.tf").read_text(), "one policy, the shipped one"
    assert "terraform-examples/aws/iam-policy.json" in (ROOT / "README.md").read_text()


def test_the_gce_role_lists_every_permission_the_provider_names_and_the_example_uses_it():
    role = yaml.safe_load((EXAMPLES / "gce" / "cloudroutes-role.yaml").read_text())
    # routes.insert needs compute.networks.updatePolicy beside compute.routes.create
    # (https://cloud.google.com/vpc/docs/audit-logging); every other method needs one permission.
    assert set(role["includedPermissions"]) == set(gce_errors.PERMISSIONS.values()) | {"compute.networks.updatePolicy"}
    assert len(role["includedPermissions"]) == len(set(role["includedPermissions"]))
    assert 'yamldecode(file("${path.module}/cloudroutes-role.yaml"))' in (EXAMPLES / "gce" / "iam.tf").read_text()
    assert "terraform-examples/gce/cloudroutes-role.yaml" in (ROOT / "README.md").read_text()


def test_gce_example_speaks_the_products_names():
    text = (EXAMPLES / "gce" / "main.tf").read_text()
    assert gce_names.CIDR_LABEL in text and gce_names.CIDR_LABEL_V6 in text
    assert f"{gce_names.CLUSTER_LABEL} = var.cluster" in text


RENDERED = re.compile(r'output "cloudroutes_toml" \{\s*value = <<-EOT\n(.*?)\n\s*EOT', re.S)
# What each interpolation stands for once Terraform has run.
FILLED = {
    "var.cluster": "prod-eu",
    "var.project": "my-project",
    "aws_vpc.main.id": "vpc-0abc",
    "data.aws_region.current.name": "eu-west-3",
    "google_compute_network.main.name": "main",
}


@pytest.mark.parametrize("cloud", ["aws", "gce"])
def test_the_rendered_config_is_one_cloudroutes_reads(cloud):
    """The config each example prints is valid as it comes out; on AWS it names the VPC's region,
    so cloudroutes run from anywhere (a CI runner in another region) talks to the right one."""
    import textwrap

    from cloudroutes import config

    (template,) = RENDERED.findall((EXAMPLES / cloud / "main.tf").read_text())
    text = re.sub(r"\$\{([^}]+)\}", lambda m: FILLED[m.group(1)], textwrap.dedent(template))
    cfg = config.from_text(text, source=f"terraform-examples/{cloud}")
    assert (cfg.provider, cfg.cluster.name) == (cloud, "prod-eu")
    if cloud == "aws":
        assert (cfg.aws.region, cfg.aws.vpc_id) == ("eu-west-3", "vpc-0abc")
