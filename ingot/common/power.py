"""Ironic's power state names.

They live below every layer because the API and the conductor ask for them and the drivers
report them; the provision state machine (conductor/states.py) re-exports them.
"""

POWER_ON = "power on"
POWER_OFF = "power off"
REBOOT = "rebooting"
SOFT_REBOOT = "soft rebooting"
SOFT_POWER_OFF = "soft power off"
