"""Finding the server from the address: a DNS server of our own on 127.0.0.1 (dnslib) serving
MX, SRV and address records for test domains, and an HTTPS server with a trustme certificate
serving autoconfig files by virtual host. `mailsetup discover` runs as a user runs it, its
lookups sent to that resolver by $MAILSETUP_NAMESERVER."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailsetup_tui.core.discovery import Discovery, Source, discover, parse_autoconfig
from mailsetup_tui.core.providers import Hosted, Security, hosted_by

from support.cli import mailsetup_env, run_mailsetup
from support.dns import (
    MX,
    SRV,
    Site,
    Zone,
    address_records,
    autoconfig_xml,
    dns_server,
    https_site,
    silent_nameserver,
)
from support.servers import LOGIN, PASSWORD, Certificates, SmtpServer

ACME = "acme.example"
SITE_NAMES = (f"autoconfig.{ACME}", ACME, "autoconfig.thunderbird.net")


@pytest.fixture(scope="module")
def site_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.create(tmp_path_factory.mktemp("site"), "site", *SITE_NAMES)


@pytest.fixture
def site(site_certificates: Certificates) -> Iterator[tuple[Site, int]]:
    pages = Site()
    with https_site(pages, site_certificates.server_context) as port:
        yield pages, port


def look(
    address: str,
    nameserver: str,
    *,
    ca_file: Path | None = None,
    https_port: int = 443,
    ispdb: bool = False,
) -> Discovery:
    import asyncio

    environ = {"MAILSETUP_NAMESERVER": nameserver}
    return asyncio.run(
        discover(address, environ=environ, ca_file=ca_file, https_port=https_port, ispdb=ispdb)
    )


def cli(tmp_path: Path, nameserver: str, *args: str) -> tuple[int, str, str]:
    env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
    ran = run_mailsetup("discover", *args, env=env)
    return ran.code, ran.out, ran.err


# --- by the domain's MX ---------------------------------------------------------------------


def test_a_google_workspace_domain_is_found_by_its_mx(tmp_path: Path) -> None:
    zone: Zone = {(ACME, "MX"): [MX("aspmx.l.google.com.", 1), MX("alt1.aspmx.l.google.com.", 5)]}
    with dns_server(zone) as (nameserver, _):
        code, out, _ = cli(tmp_path, nameserver, f"codes@{ACME}", "--json")
    found = json.loads(out)
    assert code == 0 and found["status"] == "ok"
    assert (found["server"], found["port"], found["security"], found["source"]) == (
        "smtp.gmail.com",
        587,
        "starttls",
        "mx",
    )


def test_a_microsoft_365_domain_is_found_by_its_mx(tmp_path: Path) -> None:
    zone: Zone = {(ACME, "MX"): [MX("acme-example.mail.protection.outlook.com.", 0)]}
    with dns_server(zone) as (nameserver, _):
        code, out, _ = cli(tmp_path, nameserver, f"codes@{ACME}")
    assert code == 0
    assert out.splitlines()[0] == (
        "Found: smtp.office365.com, port 587, STARTTLS (from acme.example's mail servers (MX))"
    )


def test_a_domain_hosted_elsewhere_finds_nothing_and_says_what_it_tried(tmp_path: Path) -> None:
    zone: Zone = {(ACME, "MX"): [MX("mx1.hosting.example.", 10)]}
    with dns_server(zone) as (nameserver, _):
        code, out, _ = cli(tmp_path, nameserver, f"codes@{ACME}")
    assert code == 1
    assert "Nothing found for acme.example" in out
    assert "MX: mx1.hosting.example (neither Google nor Microsoft 365)" in out
    assert "SRV: no submission record" in out


def test_who_hosts_a_domain_by_its_mx() -> None:
    assert hosted_by(("aspmx.l.google.com", "alt2.aspmx.l.googlemail.com")) is Hosted.GOOGLE
    assert hosted_by(("x.mail.protection.outlook.com",)) is Hosted.MICROSOFT_365
    assert hosted_by(("aspmx.l.google.com", "backup.acme.example")) is Hosted.ELSEWHERE
    assert hosted_by(("google.com.evil.example",)) is Hosted.ELSEWHERE
    assert hosted_by(()) is Hosted.ELSEWHERE


# --- by SRV -------------------------------------------------------------------------------------


def test_srv_submissions_first_then_submission(tmp_path: Path) -> None:
    zone: Zone = {
        (f"_submission._tcp.{ACME}", "SRV"): [SRV(0, 1, 587, "mail.acme.example.")],
        (f"_submissions._tcp.{ACME}", "SRV"): [
            SRV(10, 1, 465, "backup.acme.example."),
            SRV(0, 1, 465, "smtp.acme.example."),
        ],
    }
    with dns_server(zone) as (nameserver, _):
        code, out, _ = cli(tmp_path, nameserver, f"codes@{ACME}", "--json")
    found = json.loads(out)
    assert code == 0 and (found["server"], found["port"], found["security"]) == (
        "smtp.acme.example",
        465,
        "tls",
    )
    assert found["source"] == "srv" and found["origin"] == f"_submissions._tcp.{ACME}"


def test_an_srv_target_of_dot_means_not_offered(tmp_path: Path) -> None:
    zone: Zone = {
        (f"_submissions._tcp.{ACME}", "SRV"): [SRV(0, 0, 0, ".")],
        (f"_submission._tcp.{ACME}", "SRV"): [SRV(0, 1, 587, "mail.acme.example.")],
    }
    with dns_server(zone) as (nameserver, _):
        found = look(f"codes@{ACME}", nameserver).found
    assert found is not None and (found.server, found.port, found.security) == (
        "mail.acme.example",
        587,
        Security.STARTTLS,
    )


# --- by the domain's autoconfig file ------------------------------------------------------


def test_autoconfig_is_found_and_wins_over_srv(
    site: tuple[Site, int], site_certificates: Certificates
) -> None:
    pages, port = site
    pages.pages[(f"autoconfig.{ACME}", "/mail/config-v1.1.xml")] = autoconfig_xml(
        "smtp.acme.example", 465, "SSL"
    )
    zone: Zone = address_records(*SITE_NAMES) | {
        (f"_submission._tcp.{ACME}", "SRV"): [SRV(0, 1, 587, "other.acme.example.")]
    }
    with dns_server(zone) as (nameserver, asked):
        discovery = look(
            f"codes@{ACME}", nameserver, ca_file=site_certificates.ca_file, https_port=port
        )
    found = discovery.found
    assert found is not None and found.source is Source.AUTOCONFIG
    assert (found.server, found.port, found.security) == ("smtp.acme.example", 465, Security.TLS)
    assert found.sentence(ACME) == (
        "smtp.acme.example, port 465, TLS (from acme.example's autoconfig)"
    )
    assert (f"_submission._tcp.{ACME}", "SRV") not in asked.asked  # it stopped at the first
    assert all("codes" not in path for _, path in pages.requests)  # never the address


def test_the_well_known_place_is_second(
    site: tuple[Site, int], site_certificates: Certificates
) -> None:
    pages, port = site
    pages.pages[(ACME, "/.well-known/autoconfig/mail/config-v1.1.xml")] = autoconfig_xml(
        "smtp.acme.example", 587, "STARTTLS"
    )
    with dns_server(address_records(*SITE_NAMES)) as (nameserver, _):
        discovery = look(
            f"codes@{ACME}", nameserver, ca_file=site_certificates.ca_file, https_port=port
        )
    assert discovery.found is not None
    assert discovery.found.origin == f"https://{ACME}/.well-known/autoconfig/mail/config-v1.1.xml"
    assert any("HTTP 404" in note for note in discovery.notes)


@pytest.mark.parametrize(
    ("page", "said"),
    [
        (b"<clientConfig><unclosed>", "not an autoconfig file"),
        (b"<html><body>Welcome</body></html>", "not an autoconfig file (its root is <html>)"),
        (autoconfig_xml("smtp.acme.example", 25, "plain"), "names no encrypted SMTP server"),
        (autoconfig_xml("%EMAILDOMAIN%", 465, "SSL"), "names no encrypted SMTP server"),
        (autoconfig_xml("smtp.acme.example", 465, "SSL", kind="exchange"), "names no encrypted"),
    ],
)
def test_a_bad_autoconfig_file_is_said_and_the_search_goes_on(
    site: tuple[Site, int], site_certificates: Certificates, page: bytes, said: str
) -> None:
    pages, port = site
    pages.pages[(f"autoconfig.{ACME}", "/mail/config-v1.1.xml")] = page
    zone = address_records(*SITE_NAMES) | {(ACME, "MX"): [MX("aspmx.l.google.com.", 1)]}
    with dns_server(zone) as (nameserver, _):
        discovery = look(
            f"codes@{ACME}", nameserver, ca_file=site_certificates.ca_file, https_port=port
        )
    assert any(said in note for note in discovery.notes), discovery.notes
    assert discovery.found is not None and discovery.found.source is Source.MX


def test_a_redirect_to_another_domain_is_not_followed(
    site: tuple[Site, int], site_certificates: Certificates
) -> None:
    pages, port = site
    pages.pages[(f"autoconfig.{ACME}", "/mail/config-v1.1.xml")] = (
        "redirect",
        "https://attacker.example/config.xml",
    )
    with dns_server(address_records(*SITE_NAMES)) as (nameserver, _):
        discovery = look(
            f"codes@{ACME}", nameserver, ca_file=site_certificates.ca_file, https_port=port
        )
    assert discovery.found is None
    assert any(
        "redirects to https://attacker.example/config.xml; not followed" in note
        for note in discovery.notes
    )
    assert [host for host, _ in pages.requests] == [f"autoconfig.{ACME}", ACME]


def test_an_untrusted_certificate_is_not_believed(
    site: tuple[Site, int], site_certificates: Certificates
) -> None:
    pages, port = site
    pages.pages[(f"autoconfig.{ACME}", "/mail/config-v1.1.xml")] = autoconfig_xml(
        "evil.example", 465, "SSL"
    )
    with dns_server(address_records(*SITE_NAMES)) as (nameserver, _):
        discovery = look(f"codes@{ACME}", nameserver, https_port=port)  # system store only
    assert discovery.found is None
    assert any("certificate is not trusted" in note for note in discovery.notes)


@pytest.mark.parametrize("allowed", [False, True])
def test_thunderbirds_database_is_asked_only_when_allowed(
    site: tuple[Site, int], site_certificates: Certificates, allowed: bool
) -> None:
    pages, port = site
    pages.pages[("autoconfig.thunderbird.net", f"/v1.1/{ACME}")] = autoconfig_xml(
        "smtp.isp.example", 587, "STARTTLS"
    )
    with dns_server(address_records(*SITE_NAMES)) as (nameserver, _):
        discovery = look(
            f"codes@{ACME}",
            nameserver,
            ca_file=site_certificates.ca_file,
            https_port=port,
            ispdb=allowed,
        )
    asked = ("autoconfig.thunderbird.net", f"/v1.1/{ACME}") in pages.requests
    assert asked is allowed
    if allowed:
        assert discovery.found is not None and discovery.found.source is Source.ISPDB
        assert discovery.found.server == "smtp.isp.example"
    else:
        assert discovery.found is None


def test_the_parser_takes_the_first_encrypted_smtp_server() -> None:
    both = autoconfig_xml("smtp.acme.example", 587, "STARTTLS").replace(
        b"<outgoingServer",
        b'<outgoingServer type="smtp"><hostname>x</hostname></outgoingServer><outgoingServer',
        1,
    )
    assert parse_autoconfig(both) == ("smtp.acme.example", 587, Security.STARTTLS)


# --- when DNS does not help -------------------------------------------------------------------


def test_no_resolver_answering_is_a_note_within_the_deadline(tmp_path: Path) -> None:
    started = time.monotonic()
    code, out, err = cli(tmp_path, silent_nameserver(), f"codes@{ACME}", "--timeout", "3")
    assert code == 1 and err == ""
    assert time.monotonic() - started < 8
    assert "Nothing found for acme.example" in out and "Traceback" not in out + err


def test_a_slow_resolver_is_cut_off_by_the_deadline(tmp_path: Path) -> None:
    zone: Zone = {(ACME, "MX"): [MX("aspmx.l.google.com.", 1)]}
    with dns_server(zone, delay=10) as (nameserver, _):
        started = time.monotonic()
        code, out, _ = cli(tmp_path, nameserver, f"codes@{ACME}", "--timeout", "2", "--json")
        elapsed = time.monotonic() - started
    assert code == 1 and elapsed < 7
    assert json.loads(out)["status"] == "failed"


def test_hostile_names_in_answers_are_refused_or_shown_escaped(tmp_path: Path) -> None:
    zone: Zone = {
        (f"_submissions._tcp.{ACME}", "SRV"): [SRV(0, 1, 465, "evil\x1b[2J.example.")],
        (ACME, "MX"): [MX("mx\x1b]0;owned\x07.acme.example.", 10)],
    }
    with dns_server(zone) as (nameserver, _):
        code, out, err = cli(tmp_path, nameserver, f"codes@{ACME}")
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "MX: " in out


def test_an_address_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    for address in ("no-at-sign", "codes@", "codes@acme\r\nBcc: x@y.example", "a@nodot"):
        code, _, err = cli(tmp_path, silent_nameserver(), address)
        assert code == 2, address
        assert "is not an e-mail address" in err


# --- test and save with --discover ------------------------------------------------------------


def test_test_with_discover_finds_the_server_and_logs_in(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    zone: Zone = {
        ("_submission._tcp.example.com", "SRV"): [SRV(0, 1, starttls_server.port, "127.0.0.1.")]
    }
    with dns_server(zone) as (nameserver, _):
        env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
        ran = run_mailsetup(
            "save", "--smtp-mail", "other", "--display-name", "Codes", "--email", LOGIN,
            "--discover", "--password-stdin", "--ca-file", str(certificates.ca_file),
            env=env, stdin=PASSWORD + "\n",
        )  # fmt: skip
    assert ran.code == 0, ran.err
    assert (
        f"mailsetup: found 127.0.0.1, port {starttls_server.port}, STARTTLS (from example.com's "
        "SRV record)" in ran.err
    )
    saved = (tmp_path / "config" / "account.toml").read_text()
    assert 'server = "127.0.0.1"' in saved and f"port = {starttls_server.port}" in saved


def test_discover_with_nothing_found_names_what_to_give(tmp_path: Path) -> None:
    with dns_server({}) as (nameserver, _):
        env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
        ran = run_mailsetup(
            "test", "--smtp-mail", "other", "--display-name", "Codes", "--email", LOGIN,
            "--discover", "--password-stdin", env=env, stdin=PASSWORD + "\n",
        )  # fmt: skip
    assert ran.code == 2
    assert "nothing found for example.com" in ran.err and "give --server and --port" in ran.err


def test_the_line_mode_offers_the_found_server_for_other(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    zone: Zone = {
        ("_submission._tcp.example.com", "SRV"): [SRV(0, 1, starttls_server.port, "127.0.0.1.")]
    }
    script = "\n".join(["o", "Codes", LOGIN, "", PASSWORD, "", "y"]) + "\n"
    with dns_server(zone) as (nameserver, _):
        env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
        ran = run_mailsetup(
            "--plain", "--ca-file", str(certificates.ca_file), env=env, stdin=script
        )
    assert ran.code == 0, ran.out + ran.err
    assert (
        f"Found: 127.0.0.1, port {starttls_server.port}, STARTTLS (from example.com's SRV "
        "record). Use it? [Y/n]" in ran.out
    )
    assert "Connected successfully" in ran.out
    assert f"port = {starttls_server.port}" in (tmp_path / "config" / "account.toml").read_text()
