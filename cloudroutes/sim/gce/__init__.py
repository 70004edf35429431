"""An embedded GCE Compute Engine emulator: routes, operations, instances, networks, over HTTP/JSON.

It speaks the REST API google-cloud-compute uses (`/compute/v1/projects/...`), with GCE's rules for
routes (names, CIDRs, subnet ranges, the ROUTES quota, 409 on a taken name), operations that take
time, fingerprints on instance writes, rate limiting and injected faults. Standard library only: it
imports nothing of the cloudroutes engine and nothing of Google's libraries.

    sim = ComputeSim(project="demo-project").start()
    sim.add_network("default")
    ...
    RoutesClient(credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=sim.endpoint))

Where it knowingly differs from GCE (choices, where GCE's behaviour is unconfirmed or out of scope):
* A route to a missing next-hop instance or network is refused at insert with a synchronous 404.
* A destRange equal to or inside a subnet range (primary or secondary) is a 400; a broader one is fine.
* Deleting a route whose insert or delete is still running is a 400 resourceNotReady.
* instances.delete: the instance reads as before until its operation is DONE (GCE shows it STOPPING,
  then gone); noGracefulShutdown is accepted and changes nothing.
* instances.update applies only canIpForward (absent means false, PUT semantics); a missing or stale
  fingerprint is a 412, as is a missing or stale labelFingerprint on setLabels.
* No subnet routes or default route are created implicitly (the demo seeds a 0.0.0.0/0 route).
* Filters: `=` is an exact match (no `*` wildcards); orderBy accepts only "name"; lists are sorted by name.
* Operations wait at most `wait_cap_seconds` (default 2 s, GCE: about 2 minutes).
"""

from __future__ import annotations

from cloudroutes.sim.gce.calls import Call
from cloudroutes.sim.gce.demo import exports, seed_demo, serve_forever
from cloudroutes.sim.gce.sim import ComputeSim

__all__ = ["Call", "ComputeSim", "exports", "seed_demo", "serve_forever"]
