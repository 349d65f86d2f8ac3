"""The attacks of docs/security.md, one test each, named after the attack: in-process
(`sim`) where the rule lives in the steps, end to end (`world`) where it lives in the
process, the sandbox or the runner's files."""

from ..e2e.conftest import world
from ..steps.conftest import sim

__all__ = ["sim", "world"]
