"""The lab's one error: something about the host or the lab's own state is not as needed."""

from __future__ import annotations


class LabError(RuntimeError):
    """Raised with a one-line message a person can act on (not root, lab already up, daemon died)."""
