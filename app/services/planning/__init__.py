"""Growth plans and their boundary policies."""
