"""Temporary directories beside an export's destination.

An export is written into a hidden directory in the destination's parent
and renamed into place when complete (one rename, so readers such as TF
Serving never see half a model, and a failure leaves nothing behind).
"""

import os
import tempfile


def make_work_directory(parent, name):
    """A new hidden directory `parent/.NAME.XXXX.tmp` with the permissions
    of an ordinary new directory (`mkdtemp` alone makes it private, and the
    renamed result must stay readable by a model server)."""
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
    return path
