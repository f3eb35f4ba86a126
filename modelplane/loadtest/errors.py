"""What can go wrong before or during a load test. Each message says what to change.

LoadTestError                 message
├── ProfileError              flag: the command-line flag (or scenario field) at fault
├── TargetError               target: a deployment the router does not serve, or a bad --body
└── PlotUnavailable           matplotlib is missing: the JSON report is still written
"""

from __future__ import annotations


class LoadTestError(Exception):
    """A load test cannot run (or cannot finish its report) as asked."""


class ProfileError(LoadTestError):
    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}" if not message.startswith(flag) else message)
        self.flag = flag


class TargetError(LoadTestError):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target


class PlotUnavailable(LoadTestError):
    """The PNG needs matplotlib (a dependency of modelplane; absent in a trimmed install)."""
