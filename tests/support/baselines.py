"""What the benchmarks measure mailsetup against, defined once so that every benchmark
compares with the same thing."""

from __future__ import annotations

DIALOG_FORM = [
    "dialog", "--title", "System E-mail Account Setup", "--form", "SMTP account", "20", "76",
    "8",
    "SMTP Mail", "1", "2", "Gmail", "1", "20", "46", "0",
    "Display Name", "2", "2", "", "2", "20", "46", "0",
    "Email", "3", "2", "", "3", "20", "46", "0",
    "Password", "4", "2", "", "4", "20", "46", "0",
    "SMTP Server Name", "5", "2", "smtp.gmail.com", "5", "20", "46", "0",
    "SMTP Server Port", "6", "2", "587", "6", "20", "8", "0",
]  # fmt: skip
"""`dialog --form` with the form's six fields, as an administrator's script would draw it."""
