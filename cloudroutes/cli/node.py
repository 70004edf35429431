"""The half that runs on the VM: `node-cidr` prints this VM's own subnet from the cloud ledger."""

from __future__ import annotations

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
            "[default: http://169.254.169.254 on AWS, http://metadata.google.internal on GCE].",
        ),
    ] = "",
    region: Annotated[str, typer.Option("--region", help="AWS region; default from the environment or metadata.")] = "",
) -> None:
    """Print this VM's pod subnet from the cloud ledger. Exit 3 while none is assigned yet."""
    setup_logging(False)

    def body() -> int:
        from cloudroutes import nodecidr

        if format_ not in nodecidr.FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(nodecidr.FORMATS)}")
        if provider == "aws":
            subnets = nodecidr.aws_subnets(instance_id, region=region, imds=imds or nodecidr.DEFAULT_IMDS)
        elif provider == "gce":
            subnets = nodecidr.gce_subnets(instance_id, metadata=imds or nodecidr.DEFAULT_GCE_METADATA)
        else:
            raise ConfigError("--provider must be aws or gce")
        out.print(nodecidr.render(subnets, format_), markup=False, highlight=False)
        return EXIT_OK

    guarded(body)
