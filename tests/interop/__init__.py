"""The interop suite: mailsetup against Debian's Postfix and Dovecot."""
