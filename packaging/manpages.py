"""mailsetup(8) and mailsetup-sendmail(8), made from the program itself: the CLI's parser (its
commands, options and exit codes) and the sendmail command's --help, so a page cannot say
what the program does not. Run with the interpreter mailsetup is installed in:

    python packaging/manpages.py OUTDIR
"""

from __future__ import annotations

import argparse
import datetime
import sys
from importlib.metadata import version
from pathlib import Path

from mailsetup_tui.cli.parser import build_parser
from mailsetup_tui.exit_codes import ExitCode, Sysexit
from mailsetup_tui.sendmail.options import help_text


def roff(text: str) -> str:
    """Plain text as roff: backslashes and leading dots or quotes made literal."""
    lines = []
    for line in text.replace("\\", "\\e").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line.replace("-", "\\-"))
    return "\n".join(lines)


def header(name: str, summary: str) -> list[str]:
    date = datetime.date.today().isoformat()
    release = version("mailsetup-tui")
    return [
        f'.TH {name.upper()} 8 "{date}" "mailsetup {release}" "System Administration"',
        ".SH NAME",
        f"{roff(name)} \\- {roff(summary)}",
    ]


def option_lines(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        names = ", ".join(action.option_strings)
        if action.metavar or action.nargs != 0:
            names += f" {action.metavar or action.dest.upper()}"
        lines += [".TP", f"\\fB{roff(names)}\\fR", roff(action.help or "")]
    return lines


def exit_lines(codes: type[ExitCode] | type[Sysexit]) -> list[str]:
    lines: list[str] = []
    for code in codes:
        lines += [".TP", f"\\fB{int(code)}\\fR", roff(code.meaning)]
    return lines


def mailsetup_page() -> str:
    parser = build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    lines = header("mailsetup", "set up, test and keep the system's e-mail account")
    lines += [
        ".SH SYNOPSIS",
        "\\fBmailsetup\\fR [\\fIoptions\\fR] [\\fICOMMAND\\fR [\\fIargs\\fR]]",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        "The form is keyboard-only and fits 80x24 (F1 lists its keys); where it cannot work "
        "(TERM dumb or unset, input or output not a terminal) mailsetup asks line by line.",
        ".SH COMMANDS",
    ]
    for choice in commands._choices_actions:
        lines += [".TP", f"\\fB{roff(choice.dest)}\\fR", roff(choice.help or "")]
    lines += [".SH OPTIONS", *option_lines(parser)]
    lines += [
        ".PP",
        "Each command takes its own options as well: \\fBmailsetup\\fR \\fICOMMAND\\fR "
        "\\fB\\-\\-help\\fR lists them.",
        ".SH EXIT STATUS",
        *exit_lines(ExitCode),
        ".SH FILES",
        ".TP",
        "\\fI/etc/mailsetup/account.toml\\fR",
        "The system account (root's), with its [relay] table; the password is in "
        "\\fI/etc/mailsetup/account.secret\\fR, 0600 or 0640 to the readers group.",
        ".TP",
        "\\fI/var/lib/mailsetup/spool\\fR",
        "The relay's durable queue.",
        ".SH SEE ALSO",
        "\\fBmailsetup\\-sendmail\\fR(8), \\fBsystemctl\\fR(1); the README in "
        "\\fI/usr/share/doc/mailsetup\\fR.",
    ]
    return "\n".join(lines) + "\n"


def sendmail_page() -> str:
    text = help_text()
    usage, _, rest = text.partition("\n\n")
    lines = header("mailsetup-sendmail", "the host's sendmail, through the saved account")
    lines += [
        ".SH SYNOPSIS",
        ".nf",
        roff(usage.removeprefix("usage: ").replace("       ", "")),
        ".fi",
        ".SH DESCRIPTION",
        ".nf",
        roff(rest.rstrip("\n")),
        ".fi",
        ".SH EXIT STATUS",
        *exit_lines(Sysexit),
        ".SH SEE ALSO",
        "\\fBmailsetup\\fR(8), \\fBmailq\\fR(8), \\fBnewaliases\\fR(8)",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    (out / "mailsetup.8").write_text(mailsetup_page())
    (out / "mailsetup-sendmail.8").write_text(sendmail_page())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
