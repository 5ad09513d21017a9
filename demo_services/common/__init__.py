"""Tiny helpers shared by the demo services (each one stays an independent Django project).

Trust boundary: the services sit on an internal network reachable only from the gateway.
The gateway authenticates the caller and sets ``X-User-Id``, ``X-Scopes`` and
``X-Consumer`` (dropping any copies a client sent); the services trust those headers and
nothing else. When ``GATEWAY_SHARED_SECRET`` is set, a request must also carry it in
``X-Gateway-Secret``, so a process that reaches a service directly cannot forge an identity.
"""
