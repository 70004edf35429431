"""spec.providerID to (cloud, zone, instance): how a Node finds its VM, for both clouds.

Formats as the cloud providers write them: kubernetes/cloud-provider-aws (aws:///<zone>/<id>, the
zone may be empty) and kubernetes/cloud-provider-gcp (gce://<project>/<zone>/<name>).
"""

from __future__ import annotations

import pytest

from cloudroutes.providers.kube import instance_of


@pytest.mark.parametrize(
    ("provider_id", "expected"),
    [
        ("aws:///us-east-1a/i-0123456789abcdef0", ("aws", "us-east-1a", "i-0123456789abcdef0")),
        ("aws:///eu-west-3c/i-12345678", ("aws", "eu-west-3c", "i-12345678")),
        ("aws:////i-0123456789abcdef0", ("aws", "", "i-0123456789abcdef0")),
        ("aws:///i-0123456789abcdef0", ("aws", "", "i-0123456789abcdef0")),
        ("gce://my-project/us-central1-a/node-1", ("gce", "us-central1-a", "node-1")),
        ("gce://example.com:proj/europe-west1-b/gke-pool-1-abcd", ("gce", "europe-west1-b", "gke-pool-1-abcd")),
    ],
)
def test_cloud_provider_ids(provider_id: str, expected: tuple[str, str, str]) -> None:
    assert instance_of(provider_id) == expected


@pytest.mark.parametrize(
    "provider_id",
    [
        "",  # the cloud controller has not initialised the node yet
        "i-0123456789abcdef0",  # no scheme
        "aws:///us-east-1a/vol-0123",  # not an instance
        "aws:///us-east-1a/i-01/extra",
        "gce://my-project/node-1",  # the zone is missing
        "gce://my-project/us-central1-a/node-1/extra",
        "azure:///subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm",
        "kind://docker/kind/kind-worker",
    ],
)
def test_anything_else_names_no_vm_here(provider_id: str) -> None:
    assert instance_of(provider_id) is None
