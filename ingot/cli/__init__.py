"""The ingot command line."""
