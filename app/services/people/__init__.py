"""People and their identity: users, sign-up, passwords, browser sessions, guidance."""
