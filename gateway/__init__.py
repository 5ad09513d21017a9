"""A Django-native API gateway: route, authenticate, rate-limit, proxy, observe."""

__version__ = "0.1.0"
