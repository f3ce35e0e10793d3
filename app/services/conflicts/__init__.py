"""Conflicts: detecting them, deciding them with the policy, acting on the person's say."""
