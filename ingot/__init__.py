"""ingot: bare-metal provisioning that speaks the Bare Metal API v1."""
