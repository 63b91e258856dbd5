"""The ingot agent: runs on (or for) the machine being provisioned, speaks
ironic-python-agent's protocol, and writes images onto the machine's disk.

Libraries: ``download`` (HTTP with retries and resume), ``writer`` (onto the target).
The process: ``service`` (lookup, command API, heartbeats), ``standby`` and ``clean``
(the commands).
"""
