"""An embedded Kubernetes API server for Node objects, over HTTP/JSON, reached through a kubeconfig.

It speaks the paths and shapes of the real API for one resource (`/api/v1/nodes`): list with label
selectors and `limit`/`continue` paging, get, merge-patch and strategic-merge-patch of the object and
of its `status` subresource, resourceVersion preconditions answered 409, the API server's Node rules
(the 422 for a podCIDR change) and its Status error objects. Every object it stores or answers passes
a validator the caller hands in (the tests build it from the Node schema kubernetes-validate ships).
Standard library only: it imports nothing of the cloudroutes engine and no Kubernetes library.

    with KubeSim() as sim:
        sim.add_node("node-1", "aws:///us-east-1a/i-0123456789abcdef0")
        path = sim.write_kubeconfig(tmp / "kubeconfig")

Where it knowingly differs from a real API server:
* Only Nodes, only list/get/patch: create, update (PUT), delete and watch answer 405 or 400.
* Patches are JSON merge and strategic merge; JSON patch and server-side apply answer 415.
* Bearer-token authentication only (no TLS, no client certificates); no authorization.
* An unknown or mistyped field fails the patch (400), as strict field validation does; the default
  server warns and drops it instead.
* The status subresource ignores every metadata change, labels included.
* `resourceVersion` is one counter for the store, as etcd's revision is; list `resourceVersion`
  parameters are ignored (every list reads the latest revision or, with `continue`, its token's).
"""

from __future__ import annotations

from cloudroutes.sim.kube.calls import Call
from cloudroutes.sim.kube.sim import DEFAULT_CONTEXT, DEFAULT_TOKEN, KubeSim

__all__ = ["DEFAULT_CONTEXT", "DEFAULT_TOKEN", "Call", "KubeSim"]
