"""The half that runs on the VM: `node-cidr` prints this VM's own subnet from the cloud ledger, or
(`--from kubernetes`) from its Kubernetes Node's spec.podCIDRs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

import typer

from cloudroutes.cli.output import guarded, out, setup_logging
from cloudroutes.errors import EXIT_OK, ConfigError


def node_cidr(
    instance_id: Annotated[
        str | None,
        typer.Option("--instance-id", help="AWS: i-...; GCE: zone/name. Default: this VM, from the metadata service."),
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="plain, docker (daemon.json) or cni (bridge config).")
    ] = "plain",
    provider: Annotated[str, typer.Option("--provider", envvar="CLOUDROUTES_PROVIDER", help="aws or gce.")] = "aws",
    imds: Annotated[
        str,
        typer.Option(
            "--imds",
            envvar="CLOUDROUTES_IMDS_URL",
            help="Metadata service base URL "
            "\\[default: http://169.254.169.254 on AWS, http://metadata.google.internal on GCE].",
        ),
    ] = "",
    region: Annotated[str, typer.Option("--region", help="AWS region; default from the environment or metadata.")] = "",
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="cloud: the VM's tag or label; kubernetes: its Node's spec.podCIDRs (when Kubernetes assigns them).",
        ),
    ] = "cloud",
    node_name: Annotated[
        str | None,
        typer.Option(
            "--node-name", help="With --from kubernetes: the Node's name (default: this hostname, as kubelet names it)."
        ),
    ] = None,
    kubeconfig: Annotated[
        str,
        typer.Option(
            "--kubeconfig",
            envvar="CLOUDROUTES_KUBERNETES_KUBECONFIG",
            help="With --from kubernetes (default: KUBECONFIG, ~/.kube/config, then in-cluster).",
        ),
    ] = "",
    context: Annotated[
        str,
        typer.Option(
            "--context", envvar="CLOUDROUTES_KUBERNETES_CONTEXT", help="With --from kubernetes: the kubeconfig context."
        ),
    ] = "",
) -> None:
    """Print this VM's pod subnet from the cloud ledger (or its Node). Exit 3 while none is assigned yet."""
    setup_logging(False)

    def body() -> int:
        from cloudroutes import nodecidr, providers

        if format_ not in nodecidr.FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(nodecidr.FORMATS)}")
        if source not in SOURCES:
            raise ConfigError(f"--from must be one of {', '.join(SOURCES)}")
        if source == "kubernetes":
            if instance_id:
                raise ConfigError("--instance-id names a VM in the cloud; with --from kubernetes use --node-name")
            read = providers.pod_cidr_reader()
            subnets = read(node_name, settings={"kubeconfig": kubeconfig, "context": context})
            out.print(nodecidr.render(subnets, format_), markup=False, highlight=False)
            return EXIT_OK
        if node_name:
            raise ConfigError("--node-name names a Kubernetes Node: it goes with --from kubernetes")
        try:
            reader = providers.node_reader(provider)
        except ValueError:
            raise ConfigError("--provider must be aws or gce") from None
        settings = _settings(provider, os.environ) | ({"region": region} if region else {})
        subnets = reader(instance_id, metadata=imds, settings=settings)
        out.print(nodecidr.render(subnets, format_), markup=False, highlight=False)
        return EXIT_OK

    guarded(body)


SOURCES = ("cloud", "kubernetes")


def _settings(provider: str, env: Mapping[str, str]) -> dict[str, str]:
    """The provider's connection keys from CLOUDROUTES_<PROVIDER>_<KEY>, as `apply` would read them
    (a boot script has no config file): region, profile, project, endpoint, emulator."""
    prefix = f"CLOUDROUTES_{provider.upper()}_"
    keys = ("region", "profile", "project", "endpoint", "emulator")
    return {key: env[prefix + key.upper()] for key in keys if prefix + key.upper() in env}
