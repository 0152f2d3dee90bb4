"""`mailsetup check`: is mail still flowing? A health check for monitoring systems.

It speaks the Monitoring Plugins convention that Nagios, Icinga, Zabbix and Checkmk read: exit
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and one line, `MAILSETUP STATE - what | perfdata`. It
logs in once (as `test` does; `--no-login` leaves the provider alone), reads the relay's
queue, and warns before things break: a certificate or a Microsoft sign-in near its end, a
message waiting too long. `--prometheus FILE` writes the same figures for node_exporter's
textfile collector, atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.relay_status import age_text, relay_status
from mailsetup_tui.core.spool import Spool, SpoolError
from mailsetup_tui.core.store import StoreError
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import ExitCode


class State(IntEnum):
    """The plugin convention's exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Figure:
    """One perfdata value: `label=value[unit];warn;crit;min`."""

    label: str
    value: float
    unit: str = ""
    warn: float | None = None
    crit: float | None = None

    def perfdata(self) -> str:
        value = (
            f"{self.value:.3f}".rstrip("0").rstrip(".") if self.unit == "s" else f"{self.value:g}"
        )
        thresholds = [_number(self.warn), _number(self.crit), "0"]
        return f"{self.label}={value}{self.unit};{';'.join(thresholds)}"


@dataclass
class Health:
    state: State = State.OK
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)

    def worse(self, state: State, problem: str) -> None:
        self.state = max(self.state, state)
        self.problems.append(problem)

    def judge(self, figure: Figure, problem: str, *, lower_is_worse: bool = False) -> None:
        """Add `figure`, and a problem when it crosses its thresholds."""
        self.figures.append(figure)
        for state, limit in ((State.CRITICAL, figure.crit), (State.WARNING, figure.warn)):
            if limit is None:
                continue
            crossed = figure.value <= limit if lower_is_worse else figure.value >= limit
            if crossed:
                self.worse(state, problem)
                return

    @property
    def line(self) -> str:
        words = self.problems or self.facts
        status = f"MAILSETUP {self.state.name} - {'; '.join(shown(w) for w in words)}"
        if not self.figures:
            return status
        return f"{status} | {' '.join(figure.perfdata() for figure in self.figures)}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-login", action="store_true", help="do not log in (check the queue and relay only)"
    )
    limits = parser.add_argument_group("thresholds (WARNING, CRITICAL)")
    for name, unit, warn, crit, what in (
        ("age", "SECONDS", 900, 3600, "the oldest queued message's age"),
        ("queued", "N", 50, 500, "queued messages"),
        ("failed", "N", 1, 20, "failed messages"),
        ("cert", "DAYS", 21, 7, "days left on the server's certificate (fewer is worse)"),
        ("signin", "DAYS", 60, 80, "days since the Microsoft sign-in was last renewed"),
    ):
        limits.add_argument(
            f"--{name}-warning",
            type=float,
            default=warn,
            metavar=unit,
            help=f"{what} (default {warn})",
        )
        limits.add_argument(
            f"--{name}-critical", type=float, default=crit, metavar=unit, help=f"default {crit}"
        )
    parser.add_argument(
        "--prometheus", metavar="FILE", help="also write the figures to FILE (node_exporter)"
    )
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    health = Health()
    args = context.args
    try:
        _check(context, health)
    except (StoreError, SpoolError) as error:
        health.worse(State.UNKNOWN, str(error))
    context.output.say(health.line)
    context.output.emit_json(
        {
            "status": health.state.name.lower(),
            "exit": int(health.state),
            "problems": health.problems,
            "line": health.line,
            "figures": {figure.label: figure.value for figure in health.figures},
        }
    )
    if args.prometheus:
        try:
            write_prometheus(Path(args.prometheus), health)
        except OSError as error:
            context.output.note(f"mailsetup: cannot write {args.prometheus}: {error.strerror}")
            return ExitCode(State.UNKNOWN)
    return ExitCode(int(health.state)) if health.state else ExitCode.OK


def _check(context: Context, health: Health) -> None:
    args, session = context.args, context.session
    config = session.store.saved_config()
    account = config.account
    if not args.no_login:
        outcome = context.test(AccountDraft.of(account, ""))
        result = outcome.result
        health.figures.append(Figure("login_time", round(result.elapsed, 3), "s"))
        if outcome.failure is not None:
            state = State.WARNING if outcome.temporary else State.CRITICAL
            health.worse(state, f"the login failed: {outcome.failure.reason}")
        else:
            health.facts.append(f"login OK in {result.elapsed:.2f}s")
        if result.certificate_expires is not None:
            days = (result.certificate_expires - time.time()) / 86400
            health.judge(
                Figure(
                    "cert_days_left",
                    round(days, 1),
                    warn=args.cert_warning,
                    crit=args.cert_critical,
                ),
                f"the server's certificate ends in {days:.0f} days",
                lower_is_worse=True,
            )
    if account.signin is not None:
        renewed = session.store.secret_status(account).renewed
        if renewed is not None:
            days = (time.time() - renewed.timestamp()) / 86400
            health.judge(
                Figure(
                    "signin_age_days",
                    round(days, 1),
                    warn=args.signin_warning,
                    crit=args.signin_critical,
                ),
                f"the Microsoft sign-in was last renewed {days:.0f} days ago (it ends after 90 "
                "days unused): run mailsetup test or signin",
            )
    settings = config.relay_settings
    spool = Spool(settings.spool)
    if not spool.root.exists():
        health.facts.append("no relay spool")
        return
    figures = spool.figures()
    running = relay_status(settings).running
    health.facts.append(f"relay {'running' if running else 'not running'}")
    if not running and figures.queued:
        health.worse(State.CRITICAL, f"the relay is not running and {figures.queued} messages wait")
    health.facts.append(f"{figures.queued} queued, {figures.failed} failed")
    health.judge(
        Figure("queued", figures.queued, warn=args.queued_warning, crit=args.queued_critical),
        f"{figures.queued} messages queued",
    )
    health.judge(
        Figure("oldest_age", round(figures.oldest_age), "s", args.age_warning, args.age_critical),
        f"the oldest queued message is {age_text(figures.oldest_age)} old",
    )
    health.judge(
        Figure("failed", figures.failed, warn=args.failed_warning, crit=args.failed_critical),
        f"{figures.failed} messages failed (mailsetup queue says why)",
    )
    if figures.last_delivery is not None:
        age = max(0.0, time.time() - figures.last_delivery)
        health.figures.append(Figure("last_delivery_age", round(age), "s"))
        health.facts.append(f"last delivery {age_text(age)} ago")


def write_prometheus(path: Path, health: Health) -> None:
    """The figures in Prometheus' text format, replacing `path` atomically (node_exporter
    must never read half a file)."""
    lines = [
        "# HELP mailsetup_check_state 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
        "# TYPE mailsetup_check_state gauge",
        f"mailsetup_check_state {int(health.state)}",
    ]
    for figure in health.figures:
        name = f"mailsetup_{figure.label}" + (
            "_seconds" if figure.unit == "s" and not figure.label.endswith("time") else ""
        )
        if figure.label == "login_time":
            name = "mailsetup_login_time_seconds"
        lines += [f"# TYPE {name} gauge", f"{name} {figure.value:g}"]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text("\n".join(lines) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


COMMAND = Command(
    name="check",
    help="is mail still flowing? a health check for Nagios, Icinga, Zabbix, Checkmk",
    description=(
        "Log in once with the saved account (as `test` does), read the relay's queue, and say "
        "how it stands in the Monitoring Plugins convention: exit 0 OK, 1 WARNING, "
        "2 CRITICAL, 3 UNKNOWN; one status line with perfdata (queued, oldest_age, failed, "
        "last_delivery_age, login_time, cert_days_left, signin_age_days)."
    ),
    add_arguments=add_arguments,
    run=run,
    error_exit=State.UNKNOWN,
)
