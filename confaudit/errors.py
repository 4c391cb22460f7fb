"""Exception hierarchy. The CLI alone maps these to exit codes.

ConfauditError
 ├── InputError      exit 3: unreadable/hostile capture, HAR, flow file, key log, session dir
 │    ├── ClaimsError     exit 3: invalid claims file (carries file:line:column)
 │    │    └── ScenarioError   exit 3: invalid scenario file (file:line:column)
 │    └── ScenarioFailed  exit 3: a scenario step failed (file:line, the step): the session is incomplete
 ├── OutputError     exit 3: an output cannot be written (nothing new is left, existing files unchanged)
 └── UsageError      exit 2: contradictory or missing options (also: an output that is one of the inputs)
Anything else escaping a command is an internal error: exit 4.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CONTRADICTED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERNAL = 4


class ConfauditError(Exception):
    """Base class; str(err) must be one line, naming the file and the problem."""

    exit_code = EXIT_INTERNAL


class InputError(ConfauditError):
    """An input file is unreadable, malformed, hostile or not what it claims to be."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ClaimsError(InputError):
    """A claims file is invalid; points at file:line:column."""

    def __init__(self, path: object, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = str(path)
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        self.path = str(path)
        self.problem = problem
        Exception.__init__(self, f"{where}: {problem}")


class ScenarioError(ClaimsError):
    """A scenario file is invalid; points at file:line:column."""


class ScenarioFailed(InputError):
    """A scenario step failed at run time; the message names the scenario file, the step's line and the step."""

    def __init__(self, path: object, line: int, problem: str) -> None:
        self.line = line
        self.path = str(path)
        self.problem = problem
        Exception.__init__(self, f"{self.path}:{line}: {problem}")


class OutputError(ConfauditError):
    """An output path cannot be written (unwritable, over-long, not a directory, a directory confaudit does
    not own); raised only after every new file of the command was removed again."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UsageError(ConfauditError):
    """The command line is inconsistent."""

    exit_code = EXIT_USAGE
