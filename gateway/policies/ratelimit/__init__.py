"""Rate limiting mechanism: limits, keys, headers and the backends that store state.

The policy (``gateway.policies.rate_limit``) decides what to do with a decision; this
package makes the decision. ``backend.RateLimitBackend`` is the seam: ``memory`` and
``redis`` implement it with the same algorithm (GCRA, see ``gcra``).
"""
