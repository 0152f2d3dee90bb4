"""mailsetup: set up, test and keep the e-mail account a system sends verification codes from."""
