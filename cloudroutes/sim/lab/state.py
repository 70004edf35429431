"""The lab's state directory: what `up` made, for `verify`, `down` and the user's shell.

Files (all in the state dir, default /run/cloudroutes-lab):
- state.json: LabInfo as JSON, written by the daemon once everything is up;
- daemon.pid: the daemon's pid, written first thing, so `down` can stop a daemon that died half-way;
- daemon.log: the daemon's log (fabric changes, boot agent, errors);
- status.json: what the daemon saw and did in its latest sync round (settle.LabStatus), rewritten
  every round, for `verify` to tell whether the lab has caught up with the cloud;
- cloudroutes.toml: a cloudroutes config for the lab's cluster and VPC (AWS) or network (GCE);
- kubeconfig, kubeconfig-vm: with `--kubernetes`, the embedded Kubernetes API as the user's shell
  reaches it and as the VMs do (through the relay at the metadata address).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cloudroutes.sim.lab import names
from cloudroutes.sim.lab.cloud import CREDENTIALS
from cloudroutes.sim.lab.errors import LabError
from cloudroutes.sim.lab.settle import LabStatus

DEFAULT_STATE_DIR = Path("/run/cloudroutes-lab")
STATE_FILE = "state.json"
PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
CONFIG_FILE = "cloudroutes.toml"
STATUS_FILE = "status.json"
KUBECONFIG_FILE = "kubeconfig"
VM_KUBECONFIG_FILE = "kubeconfig-vm"
OUR_FILES = (
    STATE_FILE,
    PID_FILE,
    LOG_FILE,
    CONFIG_FILE,
    STATUS_FILE,
    KUBECONFIG_FILE,
    VM_KUBECONFIG_FILE,
    f"{STATE_FILE}.tmp",
    f"{STATUS_FILE}.tmp",
)
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class VmInfo:
    name: str
    namespace: str
    address: str
    instance_id: str
    eni_id: str
    fabric_link: str
    containers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabInfo:
    """`provider` says which embedded cloud the lab follows; vpc_id, subnet_id and route_table_id
    are AWS's, project and network GCE's (the other provider's are empty)."""

    state_dir: Path
    endpoint: str
    daemon_pid: int
    vms: tuple[VmInfo, ...]
    provider: str = "aws"  # absent from a state.json of a lab that knew only AWS
    vpc_id: str = ""
    subnet_id: str = ""
    route_table_id: str = ""
    project: str = ""
    network: str = ""
    fabric_namespace: str = names.FABRIC_NS
    metadata_endpoint: str = names.METADATA_ENDPOINT
    region: str = names.REGION
    cluster: str = names.CLUSTER
    cluster_cidr: str = str(names.CLUSTER_CIDR)
    kubernetes: str = ""
    """"publish" or "adopt" when the lab runs an embedded Kubernetes API with a Node per VM; "" without."""
    node_names: tuple[str, ...] = ()
    """With `kubernetes`: each VM's Node name, in VM order."""

    @property
    def config_path(self) -> Path:
        return self.state_dir / CONFIG_FILE

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / KUBECONFIG_FILE

    @property
    def vm_kubeconfig_path(self) -> Path:
        return self.state_dir / VM_KUBECONFIG_FILE

    def environment(self, endpoint: str | None = None) -> dict[str, str]:
        """What a user's shell (or a subprocess) needs to run cloudroutes against the lab; `endpoint`
        replaces the cloud's (a VM reaches it at the metadata address)."""
        endpoint = endpoint or self.endpoint
        if self.provider == "gce":
            cloud = {
                "CLOUDROUTES_GCE_ENDPOINT": endpoint,
                "CLOUDROUTES_GCE_PROJECT": self.project,
                "CLOUDROUTES_GCE_EMULATOR": "true",
            }
        else:
            cloud = {"AWS_ENDPOINT_URL": endpoint, **CREDENTIALS}
        return {**cloud, "CLOUDROUTES_CONFIG": str(self.config_path)}

    def exports(self) -> str:
        return "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in self.environment().items())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        return {"version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabInfo:
        data = {k: v for k, v in data.items() if k != "version"}
        vms = tuple(VmInfo(**{**vm, "containers": tuple(vm["containers"])}) for vm in data.pop("vms"))
        node_names = tuple(data.pop("node_names", ()))
        return cls(**{**data, "state_dir": Path(data["state_dir"]), "vms": vms, "node_names": node_names})


def write_atomic(path: Path, text: str) -> None:
    """Readers poll for these files: they must never see half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_state(info: LabInfo) -> None:
    write_atomic(info.state_dir / STATE_FILE, json.dumps(info.to_json(), indent=2) + "\n")


def read_state(state_dir: Path) -> LabInfo:
    path = Path(state_dir) / STATE_FILE
    try:
        return LabInfo.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise LabError(f"no lab state at {path}: run `lab up` first") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise LabError(f"unreadable lab state at {path}: {exc}") from exc


def write_status(state_dir: Path, status: LabStatus) -> None:
    write_atomic(state_dir / STATUS_FILE, json.dumps(status.to_json()) + "\n")


def read_status(state_dir: Path) -> LabStatus | None:
    """The daemon's latest status, or None (not written yet, or by a daemon that wrote none)."""
    try:
        return LabStatus.from_json(json.loads((Path(state_dir) / STATUS_FILE).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise LabError(f"unreadable lab status at {Path(state_dir) / STATUS_FILE}: {exc}") from exc


def config_text(info: LabInfo) -> str:
    if info.provider == "gce":
        # fix_forwarding: the lab's instances start with canIpForward off, as GCE makes them.
        cloud = (
            "[gce]\n"
            f'project = "{info.project}"\n'
            f'network = "{info.network}"\n'
            "fix_forwarding = true\n"
            f'endpoint = "{info.endpoint}"\n'
            "emulator = true\n"
        )
    else:
        cloud = f'[aws]\nregion = "{info.region}"\nvpc_id = "{info.vpc_id}"\n'
    kubernetes = (
        f'\n[kubernetes]\nmode = "{info.kubernetes}"\nkubeconfig = "{info.kubeconfig_path}"\n'
        if info.kubernetes
        else ""
    )
    return (
        f'provider = "{info.provider}"\n\n[cluster]\nname = "{info.cluster}"\ncidr = "{info.cluster_cidr}"\n\n{cloud}'
        + kubernetes
    )
