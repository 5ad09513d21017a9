"""Fuzz target: any bytes as a config file either load or fail with a ConfigError.

python -m tests.fuzz.fuzz_config -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from gateway.config import ConfigError
    from gateway.config.loader import load_config_text

SEED = """
upstreams:
  a: {targets: ["http://127.0.0.1:1"], timeouts: {connect: 1, read: 2}}
routes:
  - {name: r, match: {path_prefix: /api, methods: [GET]}, upstream: a, strip_prefix: /api,
     policies: [{rate_limit: {limits: ["5/second"], key: ip}}]}
"""


def check(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        load_config_text(text, "fuzz.yaml", env={"A": "http://x:1"})
    except ConfigError as error:
        assert error.problems, "a ConfigError must name at least one problem"
        error.render()


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
