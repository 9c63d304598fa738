"""Why a scoring job stops: the job is refused before scoring, or fails while scoring."""


class JobRefused(Exception):
    """The job cannot start as asked (its input, output or models); nothing is written."""


class JobFailed(Exception):
    """The job stopped while scoring (invalid rows under --on-invalid fail); nothing is kept."""


class JobStopped(JobFailed):
    """The job was asked to stop (SIGTERM, SIGINT); nothing is kept."""
