"""Commands that start an embedded cloud: demo, sim aws|gce, and the lab's namespace data plane."""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from cloudroutes.cli.options import OutputOpt
from cloudroutes.cli.output import Output, err, fail, guarded, out, setup_logging
from cloudroutes.errors import EXIT_FAILED, EXIT_OK, EXIT_PENDING, ConfigError

lab_app = typer.Typer(help="A real data plane in network namespaces that follows the embedded cloud (root, Linux).")


def demo(
    provider: Annotated[str, typer.Option("--provider", help="aws or gce.")] = "aws",
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=200, help="Nodes in the first act.")] = 6,
    output: OutputOpt = Output.text,
) -> None:
    """Run the main job against an embedded cloud: converge, churn nodes, converge again."""
    setup_logging(False)

    def body() -> int:
        from cloudroutes.demo import clouds, story

        builders = {"aws": clouds.aws_world, "gce": clouds.gce_world}
        if provider not in builders:
            raise ConfigError(f"--provider must be one of {', '.join(builders)}")
        text = output is Output.text
        told = story.run(out if text else Console(file=io.StringIO()), builders[provider](nodes))
        if not text:
            out.print(json.dumps({"command": "demo", "provider": provider} | told.to_json(), indent=2), markup=False)
        return EXIT_OK if told.ok else EXIT_FAILED

    guarded(body)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):  # wake now and then: Ctrl-C lands between waits
            pass
    except KeyboardInterrupt:
        pass


def _serve(exports: dict[str, str], output: Output, banner: str, stop: Callable[[], None]) -> None:
    """Print what to export (shell lines, or one JSON object), then serve until Ctrl-C or SIGTERM."""
    if output is Output.json:
        out.print(json.dumps({"env": exports}), markup=False, highlight=False)
    else:
        for key, value in exports.items():
            out.print(f"export {key}={value}", markup=False, highlight=False)
    sys.stdout.flush()
    err.print(banner)
    try:
        _wait_for_interrupt()
    finally:
        stop()


def sim_aws(
    nodes: Annotated[int, typer.Option("--nodes", min=0, max=500)] = 3,
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 5055,
    route_limit: Annotated[int, typer.Option("--route-limit", help="Routes per table (AWS default 50).")] = 50,
    output: OutputOpt = Output.text,
) -> None:
    """Run the embedded EC2 cloud in the foreground with a seeded VPC; prints what to export."""
    setup_logging(False)
    from cloudroutes.sim.ec2 import Ec2Sim, seed

    sim = Ec2Sim(port=port, route_limit=route_limit).start()
    seeded = seed.cluster(sim.client(), cluster="demo", nodes=nodes, multi_interface=min(1, nodes))
    exports = sim.env() | {
        "CLOUDROUTES_PROVIDER": "aws",
        "CLOUDROUTES_CLUSTER_NAME": "demo",
        "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
        "CLOUDROUTES_AWS_VPC_ID": seeded.vpc_id,
        "CLOUDROUTES_AWS_REGION": sim.region,
    }
    _serve(
        exports, output, f"EC2 sim on {sim.endpoint}: VPC {seeded.vpc_id}, {nodes} node(s). Ctrl-C stops it.", sim.stop
    )


def sim_gce(
    nodes: Annotated[int, typer.Option("--nodes", min=0, max=500)] = 3,
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 5056,
    output: OutputOpt = Output.text,
) -> None:
    """Run the embedded Compute Engine cloud in the foreground, seeded; prints what to export."""
    setup_logging(False)
    from cloudroutes.sim import gce

    sim = gce.ComputeSim(port=port).start()
    gce.seed_demo(sim, nodes)
    _serve(gce.exports(sim), output, f"Compute sim on {sim.endpoint}: {nodes} node(s). Ctrl-C stops it.", sim.stop)


StateDirOpt = Annotated[
    str, typer.Option("--state-dir", envvar="CLOUDROUTES_LAB_DIR", help="Where the lab keeps its state and config.")
]
DEFAULT_LAB_DIR = "/run/cloudroutes-lab"


def _lab(step: Callable[[Any], int]) -> None:
    """Lab commands need root and Linux; a lab problem is one line and exit 1, a host problem exit 2."""

    def body() -> int:
        from cloudroutes.sim import lab

        problem = lab.host_problem()
        if problem:
            raise ConfigError(f"the lab cannot run here: {problem}")
        try:
            return step(lab)
        except lab.LabError as exc:
            fail(str(exc), EXIT_FAILED)

    guarded(body)


@lab_app.command("up")
def lab_up(
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=20, help="VMs (instances) in the lab.")] = 3,
    provider: Annotated[
        str, typer.Option("--provider", help="The embedded cloud the fabric follows: aws or gce.")
    ] = "aws",
    state_dir: StateDirOpt = DEFAULT_LAB_DIR,
) -> None:
    """Start the embedded cloud and build the namespace fabric; prints what to export."""
    setup_logging(False)

    def step(lab: Any) -> int:
        if provider not in ("aws", "gce"):
            raise ConfigError("--provider must be aws or gce")
        info = lab.up(nodes=nodes, state_dir=state_dir, provider=provider)
        out.print(info.exports(), markup=False, highlight=False)
        again = "cloudroutes lab up" + (f" --provider {provider}" if provider != "aws" else "")
        err.print(f'lab up: {nodes} VM(s); run: eval "$({again})" to export, then cloudroutes apply --yes')
        return EXIT_OK

    _lab(step)


@lab_app.command("verify")
def lab_verify(
    output: OutputOpt = Output.text,
    state_dir: StateDirOpt = DEFAULT_LAB_DIR,
    settle: Annotated[
        str,
        typer.Option(
            "--settle",
            metavar="SECONDS",
            help="Wait at most this long (30, 2.5, 10s) for the fabric and the VMs' boot to catch up "
            "with the cloud before judging; 0 judges at once.",
        ),
    ] = "30s",
) -> None:
    """Real TCP across the fabric: every check must see the client's own address. Exit 3 if any fails."""
    setup_logging(False)

    def step(lab: Any) -> int:
        try:
            settle_s = lab.parse_seconds(settle)
        except ValueError as exc:
            raise ConfigError(f"--settle {settle}: {exc}") from None
        matrix = lab.verify(state_dir=state_dir, settle_s=settle_s)
        text = json.dumps(matrix.to_json(), indent=2) if output is Output.json else matrix.to_text()
        out.print(text, markup=False, highlight=False)
        return EXIT_OK if matrix.ok else EXIT_PENDING

    _lab(step)


@lab_app.command("down")
def lab_down(state_dir: StateDirOpt = DEFAULT_LAB_DIR) -> None:
    """Remove every namespace and link the lab made, by name, and stop its cloud."""
    setup_logging(False)

    def step(lab: Any) -> int:
        removed = lab.down(state_dir=state_dir)
        err.print(f"lab down: removed {len(removed)} item(s)")
        return EXIT_OK

    _lab(step)
