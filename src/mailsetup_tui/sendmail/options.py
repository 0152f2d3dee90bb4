"""sendmail's command line as its callers write it: getopt-style letters, then recipients.

Other MTAs' options are accepted where they change nothing here (`-odi`, `-B8BITMIME`, ...), so
that a caller written for Postfix or sendmail works unchanged.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: the fast path to the relay never imports it

if TYPE_CHECKING:
    from collections.abc import Sequence


def help_text() -> str:
    """`--help`'s text (built when asked: the fast path never pays for it)."""
    import textwrap

    from mailsetup_tui.core.relay_wire import DEFAULT_SOCKET, SOCKET_ENV
    from mailsetup_tui.exit_codes import Sysexit, exit_table
    from mailsetup_tui.mail_log import SYSLOG_ENV, SYSLOG_IDENT

    exit_codes = "\n".join(textwrap.wrap(f"Exit codes (sysexits): {exit_table(Sysexit)}.", 95))
    return f"""\
usage: sendmail [options] [--] [recipient ...]
       mailsetup sendmail [options] [--] [recipient ...]

Read one message (RFC 5322: headers, a blank line, the body) on standard input and send it
through the saved account, as /usr/sbin/sendmail does. The envelope sender and the From address
are always the account's own (providers refuse others); a different From goes to Reply-To.
When the relay runs (mailsetup relay), the message is handed to it, and exit 0 means it is
queued on disk; any local user may send this way. Its socket: ${SOCKET_ENV}, default
{DEFAULT_SOCKET} (`none`: never use it; -C FILE: send with that account instead).
Otherwise the message is sent at once, and a failure is reported at once (exit 75: try
again later).

options:
  -t            also send to the To, Cc and Bcc of the message (Bcc is removed)
  -i, -oi       a line with a single dot does not end the message
  -f ADDR, -r ADDR
                the sender the caller wants: recorded in the log, not used
  -F NAME       the sender's name, for a message without From
  -C FILE       the config file (default: $MAILSETUP_CONFIG, else as mailsetup finds it)
  -v            say on standard error what was changed, and each step of the connection
  -bp           list the relay's queue, as mailq does (a link named mailq does this);
                without a relay, it says there is no queue (exit 0)
  -bi           nothing to rebuild, as newaliases (a link named newaliases does this): the
                aliases are in the config's [aliases] (mailsetup aliases), /etc/aliases is
                not read (exit 0)
  -q            ask the relay to try its queued messages now
  --which [PATH]
                which program /usr/sbin/sendmail (or PATH), mailq and newaliases really
                are, through every link: exit 0 when it is mailsetup's, else 1 and the
                commands that make it so (paths under $DPKG_ROOT when set, as dpkg)
  --help        this text (alone: with a message to send, it is a usage error)
  ignored, as Postfix and sendmail accept them: -o... (-oi excepted) -B TYPE -bm -h HOPS
  -e MODE -N DSN -R RET -V ENVID -L LABEL -X FILE -O OPTION=VALUE -A... -d... -p PROTO
  -G -U -m -n

Local recipients (root, as cron writes) go to the config's [aliases]: mailsetup aliases.
{exit_codes}
Each message is logged to syslog (facility mail, tag {SYSLOG_IDENT}; ${SYSLOG_ENV}=none turns
that off) and to the config's log file.
"""


SEND, QUEUE, ALIASES, FLUSH, WHICH = "send", "queue", "aliases", "flush", "which"
MODE_BY_NAME = {"mailq": QUEUE, "newaliases": ALIASES}
"""Other MTAs install these as links to /usr/sbin/sendmail; so do Debian's MTA packages."""


class OptionError(Exception):
    """The command line is not one sendmail's callers write."""


class Options:
    """What the caller's command line asked for. (A plain class, not a dataclass: the
    fast path to the relay does not load `dataclasses`, and through it `inspect`.)"""

    __slots__ = (
        "config",
        "dot_ends",
        "from_headers",
        "full_name",
        "help",
        "mode",
        "recipients",
        "sender_wish",
        "verbose",
    )

    def __init__(
        self,
        recipients: list[str] | None = None,
        *,
        from_headers: bool = False,
        dot_ends: bool = True,
        sender_wish: str | None = None,
        full_name: str | None = None,
        config: str | None = None,
        verbose: bool = False,
        help: bool = False,  # noqa: A002 - the option's name
        mode: str = SEND,
    ) -> None:
        self.recipients = recipients if recipients is not None else []
        self.from_headers = from_headers
        self.dot_ends = dot_ends
        self.sender_wish = sender_wish
        self.full_name = full_name
        self.config = config
        self.verbose = verbose
        self.help = help
        self.mode = mode
        """SEND a message, or one of the other things sendmail's name or options ask for:
        QUEUE (mailq, -bp), ALIASES (newaliases, -bi), FLUSH (-q), WHICH (--which)."""

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(tuple(map(str, self._values())))

    def __repr__(self) -> str:
        pairs = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Options({pairs})"


_WITH_VALUE = "fFrCBboheNRVLXOAdp"
"""Options that take a value, joined (`-fADDR`) or as the next word (`-f ADDR`), as getopt.
Besides mailsetup's own, those other MTAs take, ignored here: -h is a hop count (not help),
-e an error mode, -N/-R/-V delivery status options, -L a log label, -X a traffic log, -O an
option, -A which submission file, -d debugging, -p a protocol."""
_MODE_BY_B = {"m": SEND, "p": QUEUE, "i": ALIASES}
_MODE_NAMES = {QUEUE: "mailq (-bp)", ALIASES: "newaliases (-bi)", FLUSH: "-q"}
_IGNORED_FLAGS = "GUmn"
"""Flags other MTAs take that change nothing here: -G (a gateway submission), -U (an initial
user submission), -m (send to me too), -n (no aliasing)."""


def parse(argv: Sequence[str], mode: str = SEND) -> Options:
    """sendmail's grammar (getopt, POSIX order): options, then recipients; `OptionError`.
    `mode` is what the program's name asks for (`MODE_BY_NAME`): mailq lists the queue."""
    options = Options(mode=mode)
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            break
        if word == "--help":
            options.help = True
            continue
        if word == "--which":
            options.mode = WHICH
            continue
        if not word.startswith("-") or word == "-":
            words.insert(0, word)
            break
        if word.startswith("--"):
            raise OptionError(f"unknown option {word.split('=')[0]}")
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in _WITH_VALUE:
                if not letters:
                    if not words:
                        raise OptionError(f"-{letter} needs a value")
                    letters = words.pop(0)
                _apply(options, letter, letters)
                break
            if letter == "t":
                options.from_headers = True
            elif letter == "i":
                options.dot_ends = False
            elif letter == "v":
                options.verbose = True
            elif letter == "q":
                options.mode = FLUSH  # -q, -qR..., -q30m: run the queue now (no daemon here)
                break
            elif letter not in _IGNORED_FLAGS:
                raise OptionError(f"unknown option -{letter}")
    options.recipients = words
    if options.mode == WHICH and len(words) > 1:
        raise OptionError("--which takes at most one path (default /usr/sbin/sendmail)")
    if options.mode in {QUEUE, ALIASES, FLUSH} and words:
        raise OptionError(f"{_MODE_NAMES[options.mode]} takes no recipients; nothing was sent")
    if options.help and list(argv) != ["--help"]:
        # Help must never end, with 0, a run that was handed a message to send.
        raise OptionError("--help goes alone; nothing was sent")
    return options


def _apply(options: Options, letter: str, value: str) -> None:
    if letter in "fr":
        options.sender_wish = value
    elif letter == "F":
        options.full_name = value
    elif letter == "C":
        options.config = value
    elif letter == "o" and value == "i":
        options.dot_ends = False
    elif letter == "b" and value in _MODE_BY_B:
        options.mode = _MODE_BY_B[value]
    elif letter == "b":
        raise OptionError(
            f"-b{value}: only -bm (send), -bp (list the queue) and -bi (aliases) are supported"
        )
    # -o (-odi, -odb, -oem, -oep, ...), -B (-B8BITMIME) and the rest of _WITH_VALUE: accepted
    # and ignored, as msmtp and nullmailer do: delivery is always at once, errors always go
    # to the exit code.
