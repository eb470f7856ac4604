"""Forwarding to operator-set upstreams: pooled connections, JSON and SSE."""
