"""Exit codes of the `kiln` command."""

SUCCESS = 0
RUN_FAILED = 1  # the command worked, but the pipeline run failed
USER_ERROR = 2  # bad input: a notebook, spec, parameter or argument; the message says which
NOT_FOUND = 3  # a run, step or artifact that does not exist
INTERNAL_ERROR = 70  # a bug in kilnflow: please report it with the traceback
CANCELLED = 130  # Ctrl-C
