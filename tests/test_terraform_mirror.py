"""Finding a mirror of the AWS provider: each place the Terraform tests look, and the reason given
when there is none (the test prints it as it skips)."""

from __future__ import annotations

from pathlib import Path

from tests import terraform_mirror

PLATFORM = terraform_mirror.platform_name()


def unpacked(root: Path) -> Path:
    binary = root / terraform_mirror.AWS / "5.100.0" / PLATFORM / "terraform-provider-aws_v5.100.0_x5"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"")
    return root


def packed(root: Path) -> Path:
    tree = root / terraform_mirror.AWS
    tree.mkdir(parents=True)
    (tree / f"terraform-provider-aws_5.100.0_{PLATFORM}.zip").write_bytes(b"")
    return root


def find(tmp_path: Path, **env: str) -> terraform_mirror.Found:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # Never the machine's own /usr/share: a mirror installed there must not decide these tests.
    env.setdefault("XDG_DATA_DIRS", str(tmp_path / "data"))
    return terraform_mirror.find(env=env, home=home, opt=tmp_path / "opt")


def test_nothing_anywhere_names_every_place_looked(tmp_path: Path) -> None:
    found = find(tmp_path, TF_PLUGIN_DIR=str(tmp_path / "nope"))
    assert found.mirror is None
    for place in (
        "$TF_PLUGIN_DIR=",
        ".terraform.d/plugins",
        "data/terraform/plugins",
        ".local/share/terraform/plugins",
        "opt/**/",
    ):
        assert place in found.reason, found.reason


def test_the_named_directory_comes_first(tmp_path: Path) -> None:
    named = unpacked(tmp_path / "named")
    unpacked(tmp_path / "opt" / "tf-plugins")
    assert find(tmp_path, TF_PLUGIN_DIR=str(named)).mirror == named
    assert find(tmp_path, CLOUDROUTES_TF_PLUGIN_DIR=str(named)).mirror == named


def test_a_tree_for_another_platform_does_not_count(tmp_path: Path) -> None:
    binary = tmp_path / "named" / terraform_mirror.AWS / "5.100.0" / "plan9_mips" / "terraform-provider-aws"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"")
    assert find(tmp_path, TF_PLUGIN_DIR=str(tmp_path / "named")).mirror is None


def test_the_cli_configs_filesystem_mirror(tmp_path: Path) -> None:
    mirror = packed(tmp_path / "mirror")
    rc = tmp_path / "cli.tfrc"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
    )
    assert find(tmp_path, TF_CLI_CONFIG_FILE=str(rc)).mirror == mirror


def test_the_implied_local_mirror_directories(tmp_path: Path) -> None:
    mirror = unpacked(tmp_path / "home" / ".terraform.d" / "plugins")
    assert find(tmp_path).mirror == mirror
    data = unpacked(tmp_path / "data" / "terraform" / "plugins")
    assert find(tmp_path, XDG_DATA_DIRS=str(tmp_path / "data")).mirror == mirror, "the home directory first"
    (mirror / terraform_mirror.AWS / "5.100.0" / PLATFORM / "terraform-provider-aws_v5.100.0_x5").unlink()
    assert find(tmp_path, XDG_DATA_DIRS=str(tmp_path / "data")).mirror == data


def test_a_tree_under_opt(tmp_path: Path) -> None:
    mirror = unpacked(tmp_path / "opt" / "hashicorp" / "plugins")
    assert find(tmp_path).mirror == mirror
