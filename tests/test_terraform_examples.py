"""terraform-examples/ stay formatted, valid where a provider plugin is at hand, and in step with
the names the product reads (tags, labels, IAM actions). Where a mirror of the AWS provider is on
the machine (tests/terraform_mirror.py says where it looks), the AWS example is applied for real
against the embedded EC2 cloud, cloudroutes converges on what it built, and it is destroyed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudroutes.providers import aws, gce_errors, gce_names
from cloudroutes.sim.ec2 import Ec2Sim
from tests import terraform_mirror

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "terraform-examples"
TERRAFORM = shutil.which("terraform")
# Never the network: no version check, no registry (the CLI config below names only the mirror).
ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


def needs_terraform() -> None:
    if TERRAFORM is None:
        print("skipping: no terraform binary on this machine")
        pytest.skip("no terraform binary on this machine")


@dataclass(frozen=True)
class Workdir:
    path: Path
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        assert TERRAFORM is not None
        return subprocess.run(
            [TERRAFORM, *args],
            cwd=self.path,
            env=self.env | env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def aws_workdir(tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """terraform-examples/aws copied and initialised once for the module, from the local mirror only:
    a generated CLI config whose provider_installation names nothing but the mirror, and -plugin-dir."""
    needs_terraform()
    found = terraform_mirror.find()
    if found.mirror is None:
        print(f"skipping: {found.reason}")
        pytest.skip(found.reason)
    base = tmp_path_factory.mktemp("tf")
    cli_config = base / "cli.tfrc"
    cli_config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{found.mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
    )
    work = Workdir(base / "aws", ENV | {"TF_CLI_CONFIG_FILE": str(cli_config)})
    shutil.copytree(EXAMPLES / "aws", work.path)
    init = work.run("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={found.mirror}")
    assert init.returncode == 0, init.stdout + init.stderr
    return work


def test_examples_are_formatted():
    needs_terraform()
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", str(EXAMPLES)], env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_aws_example_validates_with_a_local_provider(aws_workdir: Workdir) -> None:
    validate = aws_workdir.run("validate", "-json")
    assert json.loads(validate.stdout)["valid"], validate.stdout


SIM_PROVIDER = """\
# Test only: the provider pointed at the embedded EC2 cloud, whose one port answers EC2, IAM and STS.
variable "sim_endpoint" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ec2 = var.sim_endpoint
    iam = var.sim_endpoint
    sts = var.sim_endpoint
  }
}
"""


def test_the_aws_example_applied_for_real_is_what_cloudroutes_converges_on(
    aws_workdir: Workdir, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """terraform apply builds the example (2 AZs, one node each), cloudroutes converges on it with only
    the permissions Terraform granted, Terraform then sees no drift (its ignore_changes keep it off
    what cloudroutes owns), and terraform destroy takes it all down."""
    with Ec2Sim() as sim:
        for key, value in sim.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CLOUDROUTES_CONFIG", raising=False)
        ec2 = sim.client()
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        (aws_workdir.path / "sim_provider.tf").write_text(SIM_PROVIDER)
        tf_args = [
            "-input=false",
            "-no-color",
            "-parallelism=20",
            f"-var=sim_endpoint={sim.endpoint}",
            f"-var=ami={ami}",
            '-var=azs=["us-east-1a", "us-east-1b"]',
            "-var=nodes_per_az=1",
        ]
        built = aws_workdir.run("apply", "-auto-approve", *tf_args, **sim.env())
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr
        config = tmp_path / "cloudroutes.toml"
        config.write_text(aws_workdir.run("output", "-raw", "cloudroutes_toml").stdout)
        vpc_id = _vpc_of(config)

        # The instance profile carries the role, and the role exactly the policy Terraform filled in.
        iam = sim.client("iam")
        profile = iam.get_instance_profile(InstanceProfileName="cloudroutes-prod-eu")["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == ["cloudroutes-prod-eu"]
        trust = iam.get_role(RoleName="cloudroutes-prod-eu")["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        attached = iam.list_attached_role_policies(RoleName="cloudroutes-prod-eu")["AttachedPolicies"]
        assert [p["PolicyName"] for p in attached] == ["cloudroutes-prod-eu"]

        # cloudroutes runs with that policy and nothing else (the sim enforces IAM from here on).
        # moto has no instance metadata to hand out the role's credentials, so a user holds the same
        # managed policy instead.
        sim.enforce_iam()
        iam = sim.client("iam")
        iam.create_user(UserName="controller")
        iam.attach_user_policy(UserName="controller", PolicyArn=attached[0]["PolicyArn"])
        key = iam.create_access_key(UserName="controller")["AccessKey"]
        as_controller = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

        applied = cli("apply", "--yes", "--config", str(config), "--output", "json", **as_controller)
        assert applied.exit_code == 0, applied.output
        report = json.loads(applied.output)
        assert report["converged"] and report["plan"]["summary"]["create"] == 4, report["plan"]["summary"]
        assert cli("status", "--check", "--config", str(config), **as_controller).exit_code == 0
        assert cli("plan", "--detailed-exitcode", "--config", str(config), **as_controller).exit_code == 0

        ec2 = sim.client()
        nodes = ec2.describe_instances(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Reservations"]
        subnets = {
            i["NetworkInterfaces"][0]["NetworkInterfaceId"]: {t["Key"]: t["Value"] for t in i["Tags"]}[aws.CIDR_TAG]
            for r in nodes
            for i in r["Instances"]
        }
        assert len(subnets) == 2
        tables = ec2.describe_route_tables(Filters=[{"Name": "tag-key", "Values": ["kubernetes.io/cluster/prod-eu"]}])
        for table in tables["RouteTables"]:
            ours = {
                r["NetworkInterfaceId"]: r["DestinationCidrBlock"]
                for r in table["Routes"]
                if r.get("DestinationCidrBlock", "").startswith("10.244.")
            }
            assert ours == subnets, table["RouteTableId"]
        assert len(tables["RouteTables"]) == 2

        # Terraform sees no drift: it leaves the routes, tags and forwarding flags to cloudroutes.
        admin = sim.env()
        drift = aws_workdir.run("plan", "-detailed-exitcode", *tf_args, **admin)
        assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr

        gone = aws_workdir.run("destroy", "-auto-approve", "-refresh=false", *tf_args, **admin)
        assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr
        assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []


def _vpc_of(config: Path) -> str:
    found = re.search(r'vpc_id = "(vpc-[0-9a-f]+)"', config.read_text())
    assert found, config.read_text()
    return found.group(1)


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
