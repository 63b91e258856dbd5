"""Image delivery rules shared by the conductor (validation) and the agent (use):
proxy policy, expected digests and format safety.
"""
