"""Real test parts: SMTP servers, keyring backends, a CLI runner."""
