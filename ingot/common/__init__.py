"""Vocabulary every layer shares (power states, redaction, errors); imports nothing of ingot."""
