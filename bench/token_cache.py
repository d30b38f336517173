"""What the verified-token cache costs in memory, and saves in time: ``uv run python -m bench.token_cache``.

Each worker keeps up to ``VERIFIED_TOKENS`` verified tokens (``security.VerifiedTokens``), and fills it
at the pace of the distinct tokens its own connections bring: a worker that takes over another's
clients fills it late, which the soak sees as memory growth (docs/reliability.md). So the figure that
matters is the memory of a full cache, per entry. Measured with ``tracemalloc``, counting everything
the cache keeps, the token text included (each token is a fresh string, as a request's would be);
and the time of a hit against a full verification of the same token, in the same run.
"""

from __future__ import annotations

import gc
import tempfile
import timeit
import tracemalloc
from pathlib import Path

from authsvc import create_app
from authsvc.config import Settings
from authsvc.extensions import get_codec
from authsvc.models import utcnow
from authsvc.security import VERIFIED_TOKENS, TokenCodec

ALGORITHMS = ("HS256", "ES256", "EdDSA")
CALLS = 5000


def codec_for(algorithm: str) -> TokenCodec:
    """The codec of an app on a fresh SQLite file, signing with ``algorithm`` (its keys stored)."""
    work = Path(tempfile.mkdtemp(prefix="authsvc-token-cache-"))
    settings = Settings(
        environment="production",
        instance_path=work,
        database_url=f"sqlite:///{work / 'cache.sqlite3'}",
        jwt_secret_key="cache-jwt-secret-0123456789abcdef012345",
        secret_key="cache-flask-secret-0123456789abcdef01234",
        jwt_algorithm=algorithm,
    )
    return get_codec(create_app(settings))


def mint(codec: TokenCodec, count: int) -> list[str]:
    now = utcnow()
    return [
        codec.encode(subject=str(1000 + n), token_type="access", session_id=f"{n:032x}", now=now).token
        for n in range(count)
    ]


def bytes_per_entry(codec: TokenCodec) -> float:
    """What a full cache holds, over its size: every entry added while tracing, token text included."""
    tokens = mint(codec, codec.verified.size)
    codec.decode(tokens[0], expected_type="access")  # the codec's first call imports and caches
    codec.verified.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for token in tokens:
            codec.decode(token.encode().decode(), expected_type="access")  # a fresh string, as sent
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / len(codec.verified)


def microseconds(codec: TokenCodec, *, cached: bool) -> float:
    """Best of 5 runs of ``CALLS`` decodes of one token, found in the cache or verified in full."""
    token = mint(codec, 1)[0]

    def decode() -> None:
        if not cached:
            codec.verified.clear()
        codec.decode(token, expected_type="access")

    decode()
    return min(timeit.repeat(decode, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    size = f"full ({VERIFIED_TOKENS} tokens)"
    print(f"| algorithm | bytes per entry | {size} | hit | verified in full | hit / full |")
    print("|---|---:|---:|---:|---:|---:|")
    for algorithm in ALGORITHMS:
        codec = codec_for(algorithm)
        per_entry = bytes_per_entry(codec)
        hit, full = microseconds(codec, cached=True), microseconds(codec, cached=False)
        print(
            f"| {algorithm} | {per_entry:,.0f} | {per_entry * VERIFIED_TOKENS / 2**20:.1f} MiB "
            f"| {hit:.1f} us | {full:.1f} us | {hit / full:.3f} |"
        )


if __name__ == "__main__":
    main()
