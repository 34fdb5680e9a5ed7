"""Static half: files -> libcst -> rules -> diagnostics. Never imports torch."""
