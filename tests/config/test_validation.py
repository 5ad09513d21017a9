"""Broken configs: each fails with the file, the key path and the reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.config import ConfigError, load_config

VALID = """
upstreams:
  orders: {targets: ["http://127.0.0.1:8002"]}
routes:
  - name: orders
    match: {path_prefix: /api/orders, methods: [GET, POST]}
    upstream: orders
"""

BROKEN = [
    ("unknown top-level key", VALID + "routez: []\n", "routez", "unknown key (check for a typo)"),
    (
        "typo in a route key",
        VALID.replace("upstream: orders", "upstream: orders\n    strip_prefx: /api"),
        "routes[0].strip_prefx",
        "unknown key (check for a typo)",
    ),
    (
        "unknown upstream",
        VALID.replace("upstream: orders", "upstream: order"),
        "routes[0].upstream",
        "unknown upstream 'order' (known: orders)",
    ),
    (
        "relative path prefix",
        VALID.replace("/api/orders", "api/orders"),
        "routes[0].match.path_prefix",
        "must be an absolute path like /api/orders (no query, no //)",
    ),
    (
        "bad method",
        VALID.replace("[GET, POST]", "[GET, FETCH]"),
        "routes[0].match.methods[1]",
        "Input should be 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS' or 'TRACE'",
    ),
    (
        "target is not a base URL",
        VALID.replace("http://127.0.0.1:8002", "ftp://x"),
        "upstreams.orders.targets",
        "'ftp://x' is not a base URL like http://host:port[/base-path] (no query or fragment)",
    ),
    (
        "negative timeout",
        VALID.replace('targets: ["http://127.0.0.1:8002"]', 'targets: ["http://a:1"], timeouts: {read: -1}'),
        "upstreams.orders.timeouts.read",
        "Input should be greater than 0",
    ),
    (
        "no routes",
        "upstreams:\n  a: {targets: ['http://a:1']}\nroutes: []\n",
        "routes",
        "List should have at least 1 item after validation, not 0",
    ),
    (
        "unknown policy",
        VALID + "    policies:\n      - jwtt: {}\n",
        "routes[0].policies[0]",
        "unknown policy 'jwtt'",
    ),
    (
        "two policies in one entry",
        VALID + "    policies:\n      - {a: {}, b: {}}\n",
        "routes[0].policies[0]",
        "a policy entry names exactly one policy, like `- jwt: {...}`",
    ),
    (
        "strip_prefix not a prefix",
        VALID.replace("upstream: orders", "upstream: orders\n    strip_prefix: /other"),
        "routes[0]",
        "strip_prefix '/other' must be a leading part of match.path_prefix '/api/orders'",
    ),
    (
        "duplicate route names",
        VALID + "  - {name: orders, match: {path_prefix: /x}, upstream: orders}\n",
        "<root>",
        "route name 'orders' is used twice",
    ),
    (
        "bad trusted proxy",
        VALID + "gateway: {trusted_proxies: [10.0.0.0/33]}\n",
        "gateway.trusted_proxies",
        "'10.0.0.0/33' is not an IP network (CIDR)",
    ),
    (
        "unhashed api key",
        VALID + "consumers:\n  - {name: a, api_keys: [plain-text-key]}\n",
        "consumers[0].api_keys",
        "API keys are stored hashed: 'sha256:' + 64 lowercase hex",
    ),
    (
        "missing environment variable",
        VALID.replace("http://127.0.0.1:8002", "${ORDERS_URL_NOT_SET}"),
        "upstreams.orders.targets[0]",
        "environment variable ORDERS_URL_NOT_SET is not set and has no default",
    ),
    ("not a mapping", "- a\n- b\n", "<root>", "the file must contain a mapping at the top level"),
    ("invalid YAML", "routes: [\n", "line 2, column 1", "invalid YAML"),
]


@pytest.mark.parametrize("text,path,reason", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_config_names_file_key_and_reason(tmp_path, text, path, reason):
    file = tmp_path / "gateway.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(file, env={})
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{file}: {path}: {reason}") for line in lines), lines


def test_valid_config_with_env_defaults(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID.replace("http://127.0.0.1:8002", "${ORDERS_URL:-http://127.0.0.1:9999}"))
    config, _ = load_config(file, env={})
    assert config.upstreams["orders"].targets == ["http://127.0.0.1:9999"]
    config, _ = load_config(file, env={"ORDERS_URL": "http://orders:8002"})
    assert config.upstreams["orders"].targets == ["http://orders:8002"]


def test_dollar_dollar_is_a_literal_dollar(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID.replace(":8002", ":8002/$${base}"))
    config, _ = load_config(file, env={"base": "expanded"})
    assert config.upstreams["orders"].targets == ["http://127.0.0.1:8002/${base}"]


def test_top_level_x_keys_hold_anchors_and_are_not_config(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text("x-timeouts: &t {connect: 0.5, read: 3.0}\n"
                    + VALID.replace('8002"]}', '8002"], timeouts: *t}'))
    config, _ = load_config(file, env={})
    assert config.upstreams["orders"].timeouts.read == 3.0
    file.write_text(VALID.replace("routes:", "xtra: 1\nroutes:"))
    with pytest.raises(ConfigError, match="xtra: unknown key"):
        load_config(file, env={})


def test_every_problem_is_reported_at_once(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID.replace("/api/orders", "api/orders").replace("[GET, POST]", "[NOPE]") + "extra: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, env={})
    assert len(caught.value.problems) == 3


def test_check_config_command(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(VALID + "routez: []\n")
    ok = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK (1 routes, 1 upstreams)" in ok.stdout
    failed = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1
    assert f"{bad}: routez: unknown key (check for a typo)" in failed.stderr


def test_serve_refuses_a_broken_config_before_starting(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID + "routez: []\n")
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(bad), "--port", "1"],
        capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 2
    assert "routez: unknown key" in run.stderr


def test_demo_configs_are_valid():
    from pathlib import Path

    for file in (Path(__file__).parents[2] / "gateway" / "demo").glob("*.yaml"):
        load_config(file, env={})
