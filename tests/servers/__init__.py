"""Real servers the tests start as subprocesses (Radicale, Xandikos) on free loopback ports."""
