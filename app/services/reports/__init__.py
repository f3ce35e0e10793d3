"""Growth reports: weekly ledgers, the baseline at connect, report notifications."""
