"""What native libraries print on file descriptor 2, kept out of a command's own messages.

LiteRT prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` when a model's tensors
are allocated, and TensorFlow's CUDA stubs print their start-up lines, from C++ straight to fd 2:
no Python setting reaches them. A command (training, the batch scorer) runs the code that
triggers them with fd 2 captured, and writes back every line but the ones it knows to be noise.
(The service's workers relay fd 2 into their JSON log instead: service.observability.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DELEGATE_NOTICE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def is_delegate_notice(line: str) -> bool:
    return line == DELEGATE_NOTICE


@contextmanager
def stderr_without(drop: Callable[[str], bool]) -> Iterator[None]:
    """Run the body with fd 2 captured; then write back each line `drop` does not match.

    `drop` is asked after the body has run (or failed), so it may depend on what the body
    found out (whether there is a GPU). File descriptor 2 is the process's: use it around
    start-up work on one thread, not around anything that runs long or beside other threads.
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "backslashreplace")
            kept = [line for line in text.splitlines() if not drop(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
