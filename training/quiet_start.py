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

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from contract.native_stderr import is_delegate_notice, stderr_without

# What TensorFlow's CUDA stubs, and absl's notice before its log is set up, print without a GPU.
CUDA_NOISE = re.compile(
    r"cuda|cuInit|cuDNN|cuFFT|cuBLAS|TensorRT|GPU will not be used|absl::InitializeLog",
    re.IGNORECASE,
)


@contextmanager
def without_cuda_noise() -> Iterator[None]:
    """Run the body (imports that start TensorFlow) with CUDA's start-up lines dropped when
    there is no GPU; anything else it writes to stderr comes out after it (all of it when the
    body fails: what it printed is why)."""
    found = {"gpus": True}  # until known otherwise: write everything back
    with stderr_without(lambda line: not found["gpus"] and bool(CUDA_NOISE.search(line))):
        yield
        found["gpus"] = _gpus_found()  # TensorFlow's first look for devices: cuInit runs here


@contextmanager
def without_delegate_notice() -> Iterator[None]:
    """Run the body (LiteRT checks of the exports) without LiteRT's notice on stderr."""
    with stderr_without(is_delegate_notice):
        yield


def _gpus_found() -> bool:
    """Whether TensorFlow (imported by the body, if at all) sees a GPU."""
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is None:
        return True  # not started here: nothing of CUDA's to judge
    return bool(tensorflow.config.list_physical_devices("GPU"))
