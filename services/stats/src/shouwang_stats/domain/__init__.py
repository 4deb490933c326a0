"""The projection and reporting rules: standard library only."""
