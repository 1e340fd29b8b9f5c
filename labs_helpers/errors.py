"""The kit's one exception type: a message that names the problem and the fix."""

from __future__ import annotations


class LabsError(Exception):
    """A problem the learner can fix; the message says what is wrong and how to fix it."""
