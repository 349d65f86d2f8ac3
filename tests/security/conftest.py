"""The attacks of docs/security.md, one test each, named after the attack."""

from ..e2e.conftest import world

__all__ = ["world"]
