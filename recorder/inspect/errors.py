"""The one exception of the trace views: bad input, shown as one line with status 2."""
from __future__ import annotations

from recorder.errors import RecorderError


class InspectError(RecorderError):
    """A directory that is no trace, a file cut inside a record, an unknown variable...:
    ``python -m recorder <command>`` prints ``recorder: error: <message>`` and exits 2."""
