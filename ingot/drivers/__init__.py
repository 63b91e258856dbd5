"""Hardware types and the interface implementations they are made of."""
