"""Inspection: what a node's agent reports about its hardware, turned into the node's
properties, ports and traits (inventory processing, inspection rules), and the
enrolment of machines nobody registered (discovery).

Used by the API (it checks inventories and rules as they arrive, and enrolls unknown
machines) and by conductors (they process an inspected node's inventory).
"""
