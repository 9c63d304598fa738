"""spark-submit's entry point for the batch scorer: `python -m scoring ... --engine spark`.

spark-submit runs a file, not a module; this file runs the installed `scoring` package (from the
environment shipped with the job) with the Spark engine. Arguments are the command's own.
"""

import sys

from scoring.__main__ import main

if __name__ == "__main__":
    sys.exit(main([*sys.argv[1:], "--engine", "spark"]))
