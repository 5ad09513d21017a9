"""Broken options of the edge policies (cors, ip_filter, request_size_limit, headers):
each fails at load with the key path and the exact reason, and check-config says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.config import ConfigError, load_config

VALID = """
upstreams:
  u: {targets: ["http://127.0.0.1:8002"]}
routes:
  - name: r
    match: {path_prefix: /api}
    upstream: u
    policies:
"""
AT = "routes[0].policies[0]"

# (name, policy entry, key path after routes[0].policies[0], reason)
BROKEN = [
    ("cors wildcard with credentials", "cors: {allow_origins: '*', allow_credentials: true}", "cors",
     "allow_origins '*' cannot be combined with allow_credentials: list the origins"),
    ("cors any header with credentials",
     "cors: {allow_origins: [https://a.example], allow_headers: ['*'], allow_credentials: true}", "cors",
     "allow_headers '*' cannot be combined with allow_credentials: list the headers"),
    ("cors wildcard inside a list", "cors: {allow_origins: ['*']}", "cors.allow_origins",
     "'*' stands alone: allow_origins: '*'"),
    ("cors origin with a path", "cors: {allow_origins: ['https://a.example/app']}", "cors.allow_origins",
     "'https://a.example/app' is not an origin like https://app.example.com[:port] (lowercase, no path)"),
    ("cors no origin", "cors: {allow_origins: []}", "cors.allow_origins", "list at least one origin, or '*'"),
    ("cors origins missing", "cors: {}", "cors.allow_origins", "Field required"),
    ("cors bad method", "cors: {allow_origins: '*', allow_methods: [FETCH]}", "cors.allow_methods[0]",
     "Input should be 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE' or 'OPTIONS'"),
    ("cors negative max_age", "cors: {allow_origins: '*', max_age: -1}", "cors.max_age",
     "Input should be greater than or equal to 0"),
    ("cors credentials as a string", "cors: {allow_origins: [https://a.example], allow_credentials: 'yes'}",
     "cors.allow_credentials", "Input should be a valid boolean"),
    ("ip_filter empty", "ip_filter: {}", "ip_filter", "ip_filter needs an allow or a deny list"),
    ("ip_filter bad prefix length", "ip_filter: {allow: [10.0.0.0/33]}", "ip_filter.allow",
     "'10.0.0.0/33' is not an IP network (CIDR)"),
    ("ip_filter not an address", "ip_filter: {deny: [localhost]}", "ip_filter.deny",
     "'localhost' is not an IP network (CIDR)"),
    ("ip_filter typo", "ip_filter: {allow: [10.0.0.0/8], block: []}", "ip_filter.block",
     "unknown key (check for a typo)"),
    ("request_size_limit missing", "request_size_limit: {}", "request_size_limit.max_bytes", "Field required"),
    ("request_size_limit negative", "request_size_limit: {max_bytes: -1}", "request_size_limit.max_bytes",
     "Input should be greater than or equal to 0"),
    ("request_size_limit as a string", "request_size_limit: {max_bytes: '10'}", "request_size_limit.max_bytes",
     "Input should be a valid integer"),
    ("headers sets Host upstream", "headers: {request: {set: {Host: evil}}}", "headers.request.set",
     "'Host' is set by the gateway itself; it cannot be edited"),
    ("headers forges an identity", "headers: {request: {add: {X-Consumer: admin}}}", "headers.request.add",
     "'X-Consumer' is set by the gateway itself; it cannot be edited"),
    ("headers forges X-Forwarded-For", "headers: {request: {set: {X-Forwarded-For: 1.2.3.4}}}",
     "headers.request.set", "'X-Forwarded-For' is set by the gateway itself; it cannot be edited"),
    ("headers bad name", "headers: {request: {add: {'X Bad': v}}}", "headers.request.add",
     "'X Bad' is not a valid header name"),
    ("headers CRLF in a value", 'headers: {response: {set: {X-A: "a\\r\\nSet-Cookie: s=1"}}}',
     "headers.response.set", "a header value is printable ASCII: no CR, LF, NUL or non-ASCII"),
    ("headers removes Content-Length", "headers: {response: {remove: [Content-Length]}}",
     "headers.response.remove", "'Content-Length' is set by the gateway itself; it cannot be edited"),
    ("headers bad hsts", "headers: {security: {hsts: 'max-age=abc'}}", "headers.security.hsts",
     "hsts is 'max-age=<seconds>' optionally with '; includeSubDomains' and '; preload'"),
    ("headers bad frame options", "headers: {security: {frame_options: ALLOWALL}}",
     "headers.security.frame_options", "Input should be 'DENY' or 'SAMEORIGIN'"),
    ("headers unknown security header", "headers: {security: {xss_protection: true}}",
     "headers.security.xss_protection", "unknown key (check for a typo)"),
]


@pytest.mark.parametrize("entry,path,reason", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_policy_options(tmp_path, entry, path, reason):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID + "      - " + entry + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, env={})
    assert str(caught.value).splitlines() == [f"{file}: {AT}.{path}: {reason}"]


def test_valid_options_of_every_edge_policy(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID + """\
      - ip_filter: {allow: [10.0.0.0/8, "2001:db8::/32"], deny: [10.0.13.0/24]}
      - cors: {allow_origins: [https://app.example.com], allow_credentials: true, max_age: 600}
      - request_size_limit: {max_bytes: 65536}
      - headers:
          request: {set: {X-Tenant: acme}, remove: [Cookie]}
          response: {remove: [X-Debug]}
          security: {hsts: "max-age=63072000; includeSubDomains", content_type_options: true,
                     frame_options: DENY, referrer_policy: no-referrer}
""")
    _, policies = load_config(file, env={})
    assert [name for name, _ in policies[0]] == ["ip_filter", "cors", "request_size_limit", "headers"]


def test_check_config_reports_wildcard_with_credentials(tmp_path):
    file = tmp_path / "gateway.yaml"
    file.write_text(VALID + "      - " + BROKEN[0][1] + "\n")
    run = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(file)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert f"{file}: {AT}.cors: {BROKEN[0][3]}" in run.stderr
