"""Proofs shared by the test tiers: what a binary or an image really is, read from its bytes
(binfmt_misc runs every architecture's programs on this machine, so "it ran" proves nothing)."""
