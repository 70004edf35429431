"""Build and tear down the lab's namespaces with iproute2.

Shape (why point-to-point links and not one shared bridge): AWS's source/destination check is a
per-interface property. With one veth per VM into the fabric namespace, the interface a packet
arrives on *is* the VM that sent it, so the check becomes two policy rules on that interface
(see fabric.py) and needs neither nftables nor ebtables. The fabric answers ARP for the whole
subnet on every link (proxy_arp), which is what the AWS VPC router does, so the VMs still see an
ordinary 10.0.1.0/24 with a gateway at .1 and reach each other through the fabric.

    crlab-vmN-c1 ─┐            crlab-vmN                     crlab-fab (VPC router)
    crlab-vmN-c2 ─┴─ cbr0 ─ (forwarding) ─ crlab-eth0 ══ crlab-fN   10.0.1.1, 169.254.169.254

Every veth is created from inside a lab namespace with its peer placed directly in another: the
root namespace never holds a lab link, address or route.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Network

from cloudroutes.sim.lab import names, netns
from cloudroutes.sim.lab.errors import LabError
from cloudroutes.sim.lab.names import VmSpec


def run_ip(args: Sequence[str], *, namespace: str | None = None, batch: Sequence[str] = ()) -> str:
    """Run `ip [-n namespace] args`, feeding `batch` lines to `-batch -`; raise LabError on failure."""
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    if batch:
        argv += ["-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(batch) + "\n", capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def lab_namespaces() -> list[str]:
    out = run_ip(["-j", "netns", "list"]).strip()
    return sorted(ns["name"] for ns in (json.loads(out) if out else []) if names.is_lab_name(ns["name"]))


def root_lab_links() -> list[str]:
    """Lab-named links in the root namespace: there should never be any; `down` removes strays."""
    links = json.loads(run_ip(["-j", "link", "show"]) or "[]")
    return [link["ifname"] for link in links if names.is_lab_name(link["ifname"])]


def build(vms: Sequence[VmSpec]) -> None:
    """Create the fabric, the VMs and their (still unaddressed) containers."""
    existing = lab_namespaces()
    if existing:
        raise LabError(f"lab namespaces already exist ({', '.join(existing)}): run `lab down` first")
    all_ns = [names.FABRIC_NS, *(ns for vm in vms for ns in (vm.namespace, *vm.containers))]
    run_ip([], batch=[f"netns add {ns}" for ns in all_ns])
    # No rp_filter in the fabric: like AWS, it forwards by destination, and the source check is
    # the rules' job, driven by the cloud, not the kernel's reverse-path guess.
    netns.write_sysctls(
        names.FABRIC_NS,
        {
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.default.rp_filter": "0",
            "net.ipv4.conf.all.send_redirects": "0",
            "net.ipv4.conf.default.send_redirects": "0",
        },
    )
    run_ip([], namespace=names.FABRIC_NS, batch=_fabric_batch(vms))
    netns.write_sysctls(
        names.FABRIC_NS,
        {
            key: value
            for vm in vms
            for key, value in {
                f"net.ipv4.conf.{vm.fabric_link}.proxy_arp": "1",
                # Proxied ARP answers are otherwise delayed by up to 0.8 s (proxy_delay), per neighbour.
                f"net.ipv4.neigh.{vm.fabric_link}.proxy_delay": "0",
                f"net.ipv4.conf.{vm.fabric_link}.rp_filter": "0",
            }.items()
        },
    )
    for vm in vms:
        netns.write_sysctls(vm.namespace, {"net.ipv4.ip_forward": "1"})
        run_ip([], namespace=vm.namespace, batch=_vm_batch(vm))
        for container in vm.containers:
            run_ip([], namespace=container, batch=["link set lo up", f"link set {names.UPLINK} up"])


def _fabric_batch(vms: Sequence[VmSpec]) -> list[str]:
    lines = ["link set lo up", f"addr add {names.METADATA}/32 dev lo"]
    for vm in vms:
        link = vm.fabric_link
        lines += [
            f"link add {link} type veth peer name {names.UPLINK} netns {vm.namespace}",
            # The router's address on every link (as unnumbered routers do): the VMs' gateway.
            f"addr add {names.ROUTER}/32 dev {link}",
            f"link set {link} up",
            # The underlay: each VM's own address lives behind its link. Never touched by the sync.
            f"route add {vm.address}/32 dev {link} scope link",
        ]
    return lines


def _vm_batch(vm: VmSpec) -> list[str]:
    lines = [
        "link set lo up",
        f"link set {names.UPLINK} up",
        f"addr add {vm.address}/{names.SUBNET_CIDR.prefixlen} dev {names.UPLINK}",
        f"route add default via {names.ROUTER}",
        f"route add {names.METADATA}/32 via {names.ROUTER}",
        f"link add {names.BRIDGE} type bridge",
        f"link set {names.BRIDGE} up",
    ]
    for k, container in enumerate(vm.containers, start=1):
        port = names.bridge_port(k)
        lines += [
            f"link add {port} type veth peer name {names.UPLINK} netns {container}",
            f"link set {port} master {names.BRIDGE}",
            f"link set {port} up",
        ]
    return lines


def configure_pods(vm: VmSpec, subnet: IPv4Network) -> None:
    """What a node does at boot once it knows its pod subnet: address cbr0, then its containers."""
    bridge, containers = names.pod_addresses(subnet)
    run_ip([], namespace=vm.namespace, batch=[f"addr replace {bridge}/{subnet.prefixlen} dev {names.BRIDGE}"])
    for container, address in zip(vm.containers, containers, strict=True):
        run_ip(
            [],
            namespace=container,
            batch=[
                f"addr replace {address}/{subnet.prefixlen} dev {names.UPLINK}",
                f"route replace default via {bridge}",
            ],
        )


def uplink_address(namespace: str) -> str | None:
    """The IPv4 address on a namespace's uplink, or None (container not configured yet)."""
    out = run_ip(["-j", "-4", "addr", "show", "dev", names.UPLINK], namespace=namespace)
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            return str(info["local"])
    return None


def destroy() -> list[str]:
    """Delete every lab namespace and any stray lab link in the root namespace; return what went."""
    gone = lab_namespaces()
    if gone:
        # -force: keep going past a namespace that vanished meanwhile (a concurrent `down`).
        subprocess.run(
            ["ip", "-force", "-batch", "-"],
            input="".join(f"netns del {ns}\n" for ns in gone),
            capture_output=True,
            text=True,
        )
    for link in root_lab_links():
        subprocess.run(["ip", "link", "del", link], capture_output=True, text=True)
        gone.append(link)
    return gone
