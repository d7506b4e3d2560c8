"""One error tree for reelwright, split by who must act.

    ReelwrightError
    ├── UserError                 the person fixes it; the CLI prints one line, exit code 2
    │   ├── BriefError            a request, plan or option that makes no sense (also ValueError)
    │   ├── ConfigError           configuration: unknown generator, bad config file
    │   │   └── MissingKeyError   an API key env var is not set (names the variable)
    │   ├── MissingDependencyError  an extra or a binary is missing (names the install command)
    │   ├── InputFileError        a reference/input file is unreadable or of the wrong kind
    │   ├── NotFoundError         a run, job, upload or file asked for does not exist (HTTP 404)
    │   ├── ConflictError         the thing exists but is not in a state that allows this (HTTP 409)
    │   ├── QueueFullError        the job queue is at its bound; try again later (HTTP 429)
    │   ├── AuthError             a missing or wrong server token (HTTP 401)
    │   └── LimitExceeded         a harness limit was reached; the run stops (never goes back to the model)
    │       ├── BudgetExceededError  the next take would cross --budget          (Limits.check_spend)
    │       ├── StepsExceeded     the driver used its tool/model steps            (Limits.check_steps)
    │       ├── TakesExceeded     a shot used its 1 + max_retries_per_shot takes  (Limits.check_takes)
    │       └── LengthExceeded    over an hour without --allow-long (also BriefError) (brief.check_length)
    ├── AgentError                the driving model can fix it: goes back to the model as a tool error
    │   ├── ClipRejectedError     a clip failed its checks (revise the prompt)
    │   ├── ModerationError       the provider refused the prompt or input; rewrite, don't retry
    │   └── ToolArgumentError     a tool was called with bad arguments, or out of order
    ├── GeneratorError            a generator backend failed (third-party errors wrapped here)
    │   ├── TransientGeneratorError  retryable: 408/409/429/5xx, connection errors, timeouts
    │   └── ExpiredResultError    a result URL expired or a download was truncated
    ├── MediaError                ffmpeg or probing failed
    │   └── FFmpegError           carries argv and the stderr tail
    ├── VoiceError                a text-to-speech backend failed (third-party errors wrapped here; carries .status)
    └── LLMError                  a chat model call failed after the SDK's retries (carries .status)
"""

from __future__ import annotations

from collections.abc import Sequence


class ReelwrightError(Exception):
    """Base of every error reelwright raises on purpose."""


class UserError(ReelwrightError):
    """Something the person must fix. Shown as one line, exit code 2."""

    exit_code = 2


class BriefError(UserError, ValueError):
    """A request, plan or option value that cannot be honoured."""


class ConfigError(UserError):
    """Bad configuration: unknown generator or model, malformed config file."""


class MissingKeyError(ConfigError):
    """An API key is needed and its environment variable is not set."""

    def __init__(self, env_var: str, provider: str):
        self.env_var = env_var
        self.provider = provider
        super().__init__(f"{provider} needs an API key: set the {env_var} environment variable")


class MissingDependencyError(UserError):
    """An optional extra or an external binary is missing."""

    def __init__(self, what: str, install: str):
        self.what = what
        self.install = install
        super().__init__(f"{what} is not installed; install it with: {install}")


class InputFileError(UserError):
    """An input file (reference image, video, plan) is missing, unreadable or of the wrong kind."""


class LimitExceeded(UserError):
    """A harness limit (spend, steps, takes, length) was reached. The run stops with this message;
    no driver (fixed policy or model) can work around it. Raised only by the named checks in
    `director.limits.Limits`, so each limit is defined and worded once."""


class BudgetExceededError(LimitExceeded):
    """Generating the next clip would cross the budget."""


class StepsExceeded(LimitExceeded):
    """The driver used its steps (tool calls or model turns) without finishing."""


class TakesExceeded(LimitExceeded):
    """A shot used every take it is allowed (1 + max_retries_per_shot)."""


class LengthExceeded(LimitExceeded, BriefError):
    """The video would be over an hour and --allow-long was not given."""


class AgentError(ReelwrightError):
    """An error the driving model can fix (regenerate, rewrite, call with other arguments): the agent
    loop hands it back to the model as an error tool result. Harness limits are `LimitExceeded`."""


class ClipRejectedError(AgentError):
    def __init__(self, message: str, reasons: Sequence[str] = ()):
        self.reasons = list(reasons)
        super().__init__(message)


class ModerationError(AgentError):
    """The provider refused the prompt or an input image; the prompt must change."""


class ToolArgumentError(AgentError, ValueError):
    """A tool was called with arguments it cannot use."""


class GeneratorError(ReelwrightError):
    """A generator backend failed. When the provider finished (and billed) the job but its result could
    not be fetched, `job_id` and `billed_usd` say so: the take loop counts the money and fetches that job
    again instead of paying for a new one."""

    job_id: str | None = None  # the provider job still worth fetching (polling lost sight, or download failed)
    billed_usd: float | None = None  # set when the provider finished and billed that job


class TransientGeneratorError(GeneratorError):
    """A failure worth retrying (rate limit, server error, connection trouble)."""

    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class ExpiredResultError(GeneratorError):
    """The result could not be fetched whole: expired URL or truncated download."""


class MediaError(ReelwrightError):
    """Probing or processing media failed."""


class FFmpegError(MediaError):
    """ffmpeg exited non-zero. Carries the argv and the last lines of stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        self.stderr_tail = "\n".join(lines[-15:])
        last = lines[-1] if lines else "no output"
        super().__init__(f"ffmpeg failed (exit {returncode}): {last}")

    def __str__(self) -> str:
        return f"{self.args[0]}\n  argv: {' '.join(self.argv)}\n  stderr:\n{self.stderr_tail}"


class VoiceError(ReelwrightError):
    """A text-to-speech backend failed after its SDK's retries (refused text or voice, server error)."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class LLMError(ReelwrightError):
    """A chat model call failed after the SDK's own retries (timeout, refused request, bad reply).

    Third-party SDK errors are wrapped here with `raise ... from`; `status` is the HTTP status
    when there was one."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class NotFoundError(UserError, LookupError):
    """A run, job, upload or file that the caller named does not exist."""


class ConflictError(UserError):
    """The thing exists but its state does not allow this yet (e.g. downloading a video still being made)."""


class QueueFullError(UserError):
    """The job queue holds as many jobs as it may; the caller should retry later."""

    def __init__(self, message: str, retry_after: float = 5.0):
        self.retry_after = retry_after
        super().__init__(message)


class AuthError(UserError):
    """The server needs a token and the request has none, or the wrong one. Never carries the token."""

