"""Authentication mechanics shared by the auth policies.

The policies (``gateway.policies.jwt``, ``api_key``, ``anonymous``) decide; this package
holds what they decide with: where keys come from (``keys``, ``jwks``, ``keyset``), the
verified-token cache (``token_cache``), the token sources of a request (``sources``), the
errors and ``WWW-Authenticate`` challenges (``challenge``), claims to identity and
upstream headers (``claims``) and the "any of" group runner (``group``).
"""
