"""whoami and /list/ signed with each algorithm of docs/keys.md, against HS256 in the same run.

An asymmetric check costs more than an HMAC (an ES256 or Ed25519 signature verification against a
SHA-256 keyed hash); these rows show how much of a request that is.
"""

from __future__ import annotations

from bench.suite import PASSWORD, Run, post_json
from bench.table import Measurement

ALGORITHMS = ("HS256", "ES256", "EdDSA")


def algorithms(run: Run) -> None:
    baseline: dict[str, Measurement] = {}
    for algorithm in ALGORITHMS:
        server = run.server(
            "authsvc:create_app()", f"authsvc-{algorithm}", env={"FLASK_JWT_ALGORITHM": algorithm}
        )
        try:
            token = post_json(server.base + "/token/", {"username": "user1", "password": PASSWORD})["access"]
            bearer = {"Authorization": f"Bearer {token}"}
            for path, name, floor in (
                ("/api/auth/whoami", "whoami", "q/user"),
                ("/list/", "GET /list/", "q/list"),
            ):
                measured = run.measure(server, path, headers=bearer)
                note = ""
                if algorithm == ALGORITHMS[0]:
                    baseline[path] = measured
                else:
                    first = baseline[path]
                    note = (
                        f"{measured.result.rps / first.result.rps:.2f}x HS256's req/s, "
                        f"{measured.cost.total_ms / first.cost.total_ms:.2f}x its CPU per request"
                    )
                run.add(f"{name}, {algorithm}", measured, floor=floor, note=note)
        finally:
            server.stop()
