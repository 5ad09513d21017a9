"""What the feature scenarios need: gateway configs, a signed token, a live OTLP sink.

The fully featured route is the one the performance issue names: JWT (RS256, static
public key, so the benchmark measures verification and not the identity service),
rate limiting on Redis with a limit that never triggers, tracing exported over
OTLP/HTTP to a live receiver, metrics and the JSON access log on.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import servers

ISSUER, AUDIENCE = "https://bench.invalid", "bench"
QUIET = {"GATEWAY_METRICS": "off", "GATEWAY_ACCESS_LOG": "off", "OTEL_SDK_DISABLED": "true"}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


class Signer:
    """An RSA key pair on disk (public half for the gateway) and a long-lived token."""

    def __init__(self, folder: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key_file = folder / "bench-public.pem"
        self.public_key_file.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "iat": now, "nbf": now,
                  "exp": now + 3600, "scope": "bench:read"}
        self.token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench"})

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def jwt_policy(signer: Signer, cache: bool = True) -> dict:
    return {"jwt": {"public_key_file": str(signer.public_key_file), "algorithms": ["RS256"],
                    "issuer": ISSUER, "audience": AUDIENCE, "scopes": ["bench:read"],
                    "cache_verified_tokens": cache}}


RATE_LIMIT = {"rate_limit": {"limits": ["1000000/second"], "key": "consumer"}}


def gateway_config(origin_url: str, policies: list[dict], folder: Path | None = None) -> Path:
    config = {
        "upstreams": {"origin": {"targets": [origin_url]}},
        "routes": [{"name": "bench", "match": {"path_prefix": "/bench"}, "upstream": "origin",
                    "policies": policies}],
    }
    folder = folder or Path(tempfile.mkdtemp(prefix="bench-gw-"))
    path = folder / f"gateway-{len(list(folder.glob('gateway-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def otlp_sink(cpus: str | None) -> servers.Process:
    """A live OTLP/HTTP receiver that accepts and discards spans (``bench.otlp_sink``)."""
    port = servers.free_port()
    return servers.Process("otlp-sink", [sys.executable, "-m", "bench.otlp_sink", str(port)],
                           f"http://127.0.0.1:{port}", cpus=cpus)


def observed_env(sink_url: str) -> dict[str, str]:
    return {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "GATEWAY_METRICS": "on", "GATEWAY_ACCESS_LOG": "on", "LOG_FORMAT": "json"}


#: Head sampling of 10% of new traces, as production deployments run it.
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def configurations(signer: Signer, sink_url: str) -> dict[str, tuple[list[dict], dict, dict]]:
    """Every gateway configuration the benchmarks measure: name -> (route policies,
    environment, request headers)."""
    observed, redis = observed_env(sink_url), {"REDIS_URL": REDIS_URL}
    jwt, auth = [jwt_policy(signer)], signer.headers()
    return {
        "open": ([], QUIET, {}),
        "httpcore": ([], {**QUIET, "GATEWAY_HTTP_TRANSPORT": "httpcore"}, {}),
        "metrics": ([], {**QUIET, "GATEWAY_METRICS": "on"}, {}),
        "access-log": ([], {**QUIET, "GATEWAY_ACCESS_LOG": "on", "LOG_FORMAT": "json"}, {}),
        "tracing": ([], {**observed, "GATEWAY_METRICS": "off", "GATEWAY_ACCESS_LOG": "off"}, {}),
        "tracing-sampled": ([], {**observed, **SAMPLED, "GATEWAY_METRICS": "off", "GATEWAY_ACCESS_LOG": "off"}, {}),
        "observed": ([], observed, {}),
        "observed-sampled": ([], {**observed, **SAMPLED}, {}),
        "jwt": (jwt, QUIET, auth),
        "jwt-nocache": ([jwt_policy(signer, cache=False)], QUIET, auth),
        "ratelimit": ([RATE_LIMIT], {**QUIET, **redis}, {}),
        "secured": ([*jwt, RATE_LIMIT], {**QUIET, **redis}, auth),  # full without observability
        "full": ([*jwt, RATE_LIMIT], {**observed, **redis}, auth),
        "full-sampled": ([*jwt, RATE_LIMIT], {**observed, **redis, **SAMPLED}, auth),
    }


def redis_evalsha_calls() -> int | None:
    """EVALSHA calls the Redis server has served so far (None when Redis is absent)."""
    try:
        import redis

        stats = redis.Redis.from_url(REDIS_URL, socket_timeout=1).info("commandstats")
    except Exception:  # noqa: BLE001 - Redis is optional for the benchmark
        return None
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
