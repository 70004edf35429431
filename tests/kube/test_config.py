"""Finding the Kubernetes credentials as kubectl does, and the one-line errors when there are none.

Real files in a temporary directory; the in-cluster service account is a directory laid out as the
kubelet mounts it (token, ca.crt, namespace), since no pod runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudroutes import errors
from cloudroutes.providers.kube import KubeNodes
from cloudroutes.providers.kube_api import resolve
from cloudroutes.sim.kube import KubeSim


def _kubeconfig(path: Path, *, contexts: dict[str, str], current: str = "", ca: str = "") -> str:
    """contexts: context name -> server. Each context gets its own cluster and user of that name."""
    cluster = {"certificate-authority": ca} if ca else {}
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s, **cluster}} for n, s in contexts.items()],
        "users": [{"name": n, "user": {"token": f"token-{n}"}} for n in contexts],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in contexts],
        "current-context": current,
    }
    path.write_text(json.dumps(document))
    return str(path)


def test_an_explicit_kubeconfig_wins_over_the_environment(tmp_path: Path) -> None:
    explicit = _kubeconfig(tmp_path / "explicit", contexts={"a": "https://a.example:6443"}, current="a")
    env_file = _kubeconfig(tmp_path / "env", contexts={"b": "https://b.example:6443"}, current="b")
    config, source = resolve(explicit, env={"KUBECONFIG": env_file}, home=tmp_path)
    assert config.cluster.server == "https://a.example:6443"
    assert config.user is not None and config.user.token == "token-a"
    assert source == f"kubeconfig {explicit}"


def test_kubeconfig_lists_merge_with_the_first_file_winning(tmp_path: Path) -> None:
    first = _kubeconfig(tmp_path / "one", contexts={"shared": "https://first:6443"}, current="shared")
    second = _kubeconfig(tmp_path / "two", contexts={"shared": "https://second:6443", "other": "https://o:6443"})
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{first}:{second}"}
    assert resolve(env=env, home=tmp_path)[0].cluster.server == "https://first:6443"
    assert resolve(context="other", env=env, home=tmp_path)[0].cluster.server == "https://o:6443"


def test_relative_paths_stay_relative_to_their_own_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    first = _kubeconfig(tmp_path / "one", contexts={"a": "https://a:6443"}, current="a")
    second = _kubeconfig(tmp_path / "sub" / "two", contexts={"b": "https://b:6443"}, ca="ca.crt")
    config, _ = resolve(context="b", env={"KUBECONFIG": f"{first}:{second}"}, home=tmp_path)
    assert config.cluster.certificate_auth == str(tmp_path / "sub" / "ca.crt")


def test_home_kube_config_is_the_default(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    _kubeconfig(tmp_path / ".kube" / "config", contexts={"home": "https://home:6443"}, current="home")
    config, source = resolve(env={}, home=tmp_path)
    assert (config.cluster.server, source) == ("https://home:6443", f"kubeconfig {tmp_path / '.kube' / 'config'}")


def test_in_cluster_uses_the_service_account(tmp_path: Path) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    for name, text in (("token", "sa-token"), ("ca.crt", "not a real CA"), ("namespace", "kube-system")):
        (account / name).write_text(text)
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    config, source = resolve(env=env, home=tmp_path, service_account=account)
    assert config.cluster.server == "https://[fd00::1]:443"
    assert config.cluster.certificate_auth == str(account / "ca.crt")
    assert config.user is not None and config.user.token_file == str(account / "token")  # re-read on rotation
    assert source == "the in-cluster service account"


def test_no_credentials_anywhere_is_a_config_error_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError, match=r"no Kubernetes credentials.*set \[kubernetes\] kubeconfig"):
        resolve(env={}, home=tmp_path, service_account=tmp_path / "none")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clusters: [unclosed", "is not valid YAML"),
        ("just a string", "holds no kubeconfig document"),
        ('{"clusters": [], "contexts": [], "current-context": ""}', "has no current-context"),
        (
            '{"clusters": [{"name": "c", "cluster": {"server": 5}}], "contexts": [{"name": "c", "context": '
            '{"cluster": "c"}}], "current-context": "c"}',
            "Kubernetes configuration: Expected `str`, got `int`",
        ),
    ],
)
def test_a_broken_kubeconfig_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(errors.ConfigError, match=message) as raised:
        resolve(str(path), env={}, home=tmp_path)
    assert "\n" not in str(raised.value)
    assert raised.value.exit_code == errors.EXIT_USAGE


def test_contexts_and_what_they_name_must_exist(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "config", contexts={"a": "https://a:6443", "b": "https://b:6443"}, current="a")
    with pytest.raises(errors.ConfigError, match=r"context 'prod' is not in kubeconfig .* \(contexts: a, b\)"):
        resolve(path, "prod", env={}, home=tmp_path)
    document = json.loads(Path(path).read_text())
    document["contexts"].append({"name": "orphan", "context": {"cluster": "gone", "user": "a"}})
    Path(path).write_text(json.dumps(document))
    with pytest.raises(errors.ConfigError, match="names cluster 'gone'"):
        resolve(path, "orphan", env={}, home=tmp_path)


def test_a_missing_explicit_kubeconfig_stops_the_adapter_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError, match="not found"):
        KubeNodes(kubeconfig=str(tmp_path / "nope"))


def test_the_kubeconfig_variable_reaches_the_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with KubeSim() as sim:
        sim.add_node("node-1", "gce://p/us-central1-a/node-1")
        other = _kubeconfig(tmp_path / "other", contexts={"elsewhere": "http://127.0.0.1:9"})
        monkeypatch.setenv("KUBECONFIG", f"{sim.write_kubeconfig(tmp_path / 'sim')}:{other}")
        assert [n.name for n in KubeNodes().list_nodes()] == ["node-1"]
        # The context picks a cluster; the other one has nothing listening.
        with pytest.raises(errors.Transient):
            KubeNodes(context="elsewhere").list_nodes()
