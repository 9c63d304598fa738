"""Start TensorFlow without its CUDA noise on a machine without a GPU.

Importing TensorFlow (and the LiteRT converter, which bundles its own copy) prints "Could not
find cuda drivers on your machine" and its first look for devices prints "failed call to
cuInit", straight to file descriptor 2 from C++, before TensorFlow's logging is set up:
TF_CPP_MIN_LOG_LEVEL=2 or 3 and CUDA_VISIBLE_DEVICES="" all leave the first (measured), and
level 3 would hide real errors as well. So file descriptor 2 is captured while TensorFlow is
imported and looks for GPUs; without one, the CUDA lines are dropped and every other line is
written back; with one, everything is, CUDA's lines being news then.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# What TensorFlow's CUDA stubs, and absl's notice before its log is set up, print without a GPU.
CUDA_NOISE = re.compile(
    r"cuda|cuInit|cuDNN|cuFFT|cuBLAS|TensorRT|GPU will not be used|absl::InitializeLog",
    re.IGNORECASE,
)


@contextmanager
def without_cuda_noise() -> Iterator[None]:
    """Run the body (imports that start TensorFlow) with CUDA's start-up lines dropped when
    there is no GPU; anything else it writes to stderr comes out after it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        gpus = True  # until known otherwise: write everything back
        try:
            yield
            gpus = _gpus_found()  # TensorFlow's first look for devices: cuInit runs here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "backslashreplace")
            # In `finally`: when the body fails, what it printed is why (all of it is kept).
            kept = [line for line in text.splitlines() if gpus or not CUDA_NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _gpus_found() -> bool:
    """Whether TensorFlow (imported by the body, if at all) sees a GPU."""
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is None:
        return True  # not started here: nothing of CUDA's to judge
    return bool(tensorflow.config.list_physical_devices("GPU"))
