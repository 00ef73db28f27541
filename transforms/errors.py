"""The errors a user can cause, each with the exit code the command line reports.

A ``UserError`` ends a command with its message on one line and no traceback;
everything else is a bug or an outage (exit 1, traceback), except a job that a cluster
ran and failed (``EngineFailed``: exit 1, one line, its engine's reason; the engine's own
log holds the rest). Exit codes, for schedulers:

  0    success
  1    unexpected failure (a bug, a lost worker, a full disk): worth one retry
  2    usage error: bad flags, unusable input, model or output paths; fix the command
  3    the job ran but the data failed it (too many rejects, nothing to train on); the
       earlier output is kept and this run's is written beside it, OUTPUT.failed-<time>;
       evaluate: the champion contradicts --data's labels far beyond its error on the
       registry's gate set (labels flipped, a wrong column): suspect, not blessed
  4    evaluate: the candidate model is not blessed (its report says which check failed)
  5    score --date: no input file for that date (nothing written); not a failure
  75   another run holds the same output (its lock names the pid and host): retry later
  130  interrupted (SIGINT, Ctrl-C); nothing was published
  141  standard output closed early (a pipe into head): ended quietly
  143  terminated (SIGTERM, as Airflow, systemd and `timeout` send); nothing was published
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REJECTS = 3
EXIT_NOT_BLESSED = 4
EXIT_NO_INPUT = 5
EXIT_LOCKED = 75      # sysexits' EX_TEMPFAIL
EXIT_SIGNAL_BASE = 128


class UserError(Exception):
    """A problem the user can fix; reported in one line with ``exit_code``."""
    exit_code = EXIT_USAGE


class InputError(UserError, ValueError):
    """A problem with the input paths or their content's layout."""


class OutputError(UserError):
    """An --output the job must not or cannot write."""


class ModelError(UserError):
    """A --model folder that is not a complete export of `imdb-sentiment train`."""


class TrainError(UserError, ValueError):
    """A problem with the trainer's inputs or flags."""


class DownloadError(UserError):
    """The archive could not be fetched or verified."""


class OutputLocked(UserError):
    """Another live run is writing the same output."""
    exit_code = EXIT_LOCKED


class RejectFractionExceeded(UserError, RuntimeError):
    """The data failed the job (too many rejects, nothing to train on); its output was kept
    beside the earlier one so the rejects can be inspected."""
    exit_code = EXIT_REJECTS


class NotBlessed(UserError):
    """The model gate refused the candidate."""
    exit_code = EXIT_NOT_BLESSED


class SuspectData(UserError):
    """The champion contradicts a new file's labels far beyond its known error: the file is
    suspect (flipped labels, a wrong column), and no model is blessed on it."""
    exit_code = EXIT_REJECTS


class NoInputForDate(UserError):
    """A dated run's input matched no file: nothing to score that night."""
    exit_code = EXIT_NO_INPUT


class EngineFailed(UserError):
    """A job that a cluster engine (Flink, Spark, Dataflow) ran and failed: an outage more
    than a mistake, worth one retry; nothing was published."""
    exit_code = EXIT_FAILURE


class CountsDoNotReconcile(RuntimeError):
    """read != accepted + rejected: a record was lost or duplicated (a bug, not a user error)."""
