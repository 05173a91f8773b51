"""The replay bundle: what the browser viewer (``viz/``) shows of a recorded run.

Written by every run (unless disabled) into ``RUN_DIR/replay/`` and rebuilt from
a run directory by ``fleetsim replay RUN_DIR``. The format is documented in
``viz/FORMAT.md``; this package reads recorded runs only (DESIGN.md section 6).
"""

from fleetsim.replay.reader import ReplayBundle, read_replay
from fleetsim.replay.writer import (
    FORMAT_NAME,
    FORMAT_VERSION,
    viewer_dir,
    write_replay,
    write_replay_into,
)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ReplayBundle", "read_replay", "viewer_dir",
           "write_replay", "write_replay_into"]
