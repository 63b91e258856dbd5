"""Errors of the Swift library. Messages name options, containers and objects, never a
key, token or signature."""

from __future__ import annotations


class SwiftError(RuntimeError):
    """Base class of every error raised by ingot.swift."""


class SwiftConfigError(SwiftError):
    """Configuration is missing or inconsistent; the message names the option(s)."""


class SwiftOperationError(SwiftError):
    """A request to Swift failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class InvalidSwiftReference(SwiftError, ValueError):
    """An image id or ``swift://`` reference cannot name a Swift object."""
