"""Commands that start an embedded cloud: demo, sim aws|gce, and the lab's namespace data plane."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from cloudroutes.cli.options import OutputOpt
from cloudroutes.cli.output import Output, err, fail, guarded, out, setup_logging
from cloudroutes.errors import EXIT_FAILED, EXIT_OK, EXIT_PENDING, ConfigError

if TYPE_CHECKING:
    from cloudroutes.sim.kube.cluster import NodeRegistry

lab_app = typer.Typer(help="A real data plane in network namespaces that follows the embedded cloud (root, Linux).")
T = TypeVar("T")


@contextlib.contextmanager
def _extra(extra: str) -> Iterator[None]:
    """The embedded clouds need what a plain `pip install cloudroutes` leaves out (moto, pyroute2):
    a missing one is one line naming the extra to install, exit 2, not a ModuleNotFoundError."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing == "cloudroutes":
            raise  # our own module missing is a broken install, not a missing extra
        raise ConfigError(
            f"{missing} is not installed: install cloudroutes[{extra}] (pip install 'cloudroutes[{extra}]')"
        ) from None


def _require(extra: str, *modules: str) -> None:
    """For modules a child process imports (the lab's daemon): check here, where the error is readable."""
    with _extra(extra):
        for module in modules:
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _listen(start: Callable[[], T], port: int) -> T:
    """Start a sim's server: a port in use (or not ours to take) is one line and exit 2.

    The port is tried first, because werkzeug (the EC2 sim's server) answers a port in use with
    a message of its own and sys.exit(1). SO_REUSEADDR as both servers set it: a port that only
    lingers in TIME_WAIT is free to them, so it is free here too."""
    try:
        if port:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
        return start()
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (pick another --port, or 0 for a free one)"
        ) from None


def demo(
    provider: Annotated[str, typer.Option("--provider", help="aws or gce.")] = "aws",
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=200, help="Nodes in the first act.")] = 6,
    kubernetes: Annotated[
        bool,
        typer.Option(
            "--kubernetes", help="With Kubernetes Node objects: the story in publish mode, then in adopt mode."
        ),
    ] = False,
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
        console = out if text else Console(file=io.StringIO())
        told = {}
        for mode in ("publish", "adopt") if kubernetes else ("off",):
            if mode != "off":
                console.print(f"\n[bold]Kubernetes: mode = {mode}[/]")
            with _extra("sim"):
                world = builders[provider](nodes, kubernetes=mode)
            told[mode] = story.run(console, world)
        if not text:
            doc: dict[str, Any] = {"command": "demo", "provider": provider}
            doc |= told["off"].to_json() if "off" in told else {"kubernetes": {m: t.to_json() for m, t in told.items()}}
            out.print(json.dumps(doc, indent=2), markup=False)
        return EXIT_OK if all(t.ok for t in told.values()) else EXIT_FAILED

    guarded(body)


def _stop_on_signals() -> threading.Event:
    """An event Ctrl-C and SIGTERM set. Our own SIGINT handler, not Python's KeyboardInterrupt: a
    background job of a non-interactive shell (a CI script's `cloudroutes sim aws &`) starts with
    SIGINT ignored, which Python keeps. Installed before the exports are printed: a script may
    signal as soon as it has read them."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _serve(exports: dict[str, str], output: Output, banner: str, stop: Callable[[], None]) -> None:
    """Print what to export (shell lines, or one JSON object), then serve until Ctrl-C or SIGTERM."""
    stopping = _stop_on_signals()
    try:
        if output is Output.json:
            out.print(json.dumps({"env": exports}), markup=False, highlight=False)
        else:
            for key, value in exports.items():
                out.print(f"export {key}={value}", markup=False, highlight=False)
        sys.stdout.flush()
        err.print(banner)
        while not stopping.wait(0.5):  # wake now and then: a signal lands between waits
            pass
    finally:
        stop()


KubernetesOpt = Annotated[
    bool,
    typer.Option(
        "--kubernetes", help="Also an embedded Kubernetes API with a Node per VM; exports [kubernetes] mode = publish."
    ),
]


def _nodes_beside() -> NodeRegistry:
    from cloudroutes.sim.kube.cluster import NodeRegistry

    return NodeRegistry("publish")


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def stop() -> None:
        try:
            first()
        finally:
            second()

    return stop


def sim_aws(
    nodes: Annotated[int, typer.Option("--nodes", min=0, max=500)] = 3,
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 5055,
    route_limit: Annotated[int, typer.Option("--route-limit", help="Routes per table (AWS default 50).")] = 50,
    kubernetes: KubernetesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Run the embedded EC2 cloud in the foreground with a seeded VPC; prints what to export."""
    setup_logging(False)

    def body() -> int:
        with _extra("sim"):
            from cloudroutes.sim.ec2 import Ec2Sim, seed

        sim = _listen(Ec2Sim(port=port, route_limit=route_limit).start, port)
        seeded = seed.cluster(sim.client(), cluster="demo", nodes=nodes, multi_interface=min(1, nodes))
        exports = sim.env() | {
            "CLOUDROUTES_PROVIDER": "aws",
            "CLOUDROUTES_CLUSTER_NAME": "demo",
            "CLOUDROUTES_CLUSTER_CIDR": "10.244.0.0/16",
            "CLOUDROUTES_AWS_VPC_ID": seeded.vpc_id,
            "CLOUDROUTES_AWS_REGION": sim.region,
        }
        banner = f"EC2 sim on {sim.endpoint}: VPC {seeded.vpc_id}, {nodes} node(s). Ctrl-C stops it."
        stop = sim.stop
        if kubernetes:
            nodes_api = _nodes_beside()
            nodes_api.register_ec2(sim.client(), seeded.instance_ids)
            exports |= nodes_api.exports()
            stop = _both(sim.stop, nodes_api.stop)
        _serve(exports, output, banner, stop)
        return EXIT_OK

    guarded(body)


def sim_gce(
    nodes: Annotated[int, typer.Option("--nodes", min=0, max=500)] = 3,
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 5056,
    kubernetes: KubernetesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Run the embedded Compute Engine cloud in the foreground, seeded; prints what to export."""
    setup_logging(False)

    def body() -> int:
        from cloudroutes.sim import gce

        sim = _listen(gce.ComputeSim(port=port).start, port)
        gce.seed_demo(sim, nodes)
        banner = f"Compute sim on {sim.endpoint}: {nodes} node(s). Ctrl-C stops it."
        exports, stop = gce.exports(sim), sim.stop
        if kubernetes:
            nodes_api = _nodes_beside()
            nodes_api.register_compute(sim.project, sim.instances())
            exports |= nodes_api.exports()
            stop = _both(sim.stop, nodes_api.stop)
        _serve(exports, output, banner, stop)
        return EXIT_OK

    guarded(body)


StateDirOpt = Annotated[
    str, typer.Option("--state-dir", envvar="CLOUDROUTES_LAB_DIR", help="Where the lab keeps its state and config.")
]
DEFAULT_LAB_DIR = "/run/cloudroutes-lab"


def _lab(step: Callable[[Any], int], needs: tuple[str, ...] = ()) -> None:
    """Lab commands need root, Linux and the [lab] extra (`needs`: the modules its daemon imports);
    a lab problem is one line and exit 1, a host or install problem exit 2."""

    def body() -> int:
        from cloudroutes.sim import lab

        _require("lab", *needs)
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
    kubernetes: Annotated[
        str,
        typer.Option(
            "--kubernetes",
            metavar="MODE",
            help="Also an embedded Kubernetes API with a Node per VM, in [kubernetes] mode publish or adopt "
            "(adopt: each Node starts with a podCIDR); the VMs boot with node-cidr --from kubernetes.",
        ),
    ] = "",
) -> None:
    """Start the embedded cloud and build the namespace fabric; prints what to export."""
    setup_logging(False)

    def step(lab: Any) -> int:
        if provider not in ("aws", "gce"):
            raise ConfigError("--provider must be aws or gce")
        if kubernetes not in ("", "publish", "adopt"):
            raise ConfigError("--kubernetes must be publish or adopt")
        info = lab.up(nodes=nodes, state_dir=state_dir, provider=provider, kubernetes=kubernetes)
        out.print(info.exports(), markup=False, highlight=False)
        again = "cloudroutes lab up" + (f" --provider {provider}" if provider != "aws" else "")
        again += f" --kubernetes {kubernetes}" if kubernetes else ""
        err.print(f'lab up: {nodes} VM(s); run: eval "$({again})" to export, then cloudroutes apply --yes')
        return EXIT_OK

    _lab(step, needs=("pyroute2", "moto") if provider == "aws" else ("pyroute2",))


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
