"""The Bare Metal API v1, as an ASGI application."""
