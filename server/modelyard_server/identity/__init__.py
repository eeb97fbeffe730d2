"""Callers known to an identity provider: JWT bearer tokens verified against its JWKS."""
