"""``ingot proxy``: one Bare Metal API in front of many ingot and Ironic sites.

It reads ironic-proxy's configuration format (``[DEFAULT] groups`` mapping conductor
groups to sites, one ``[group:SITE]`` section of keystoneauth1 options per site) and
routes every request to the site holding the node, or fans it out to all sites in
parallel and merges the answers. docs/proxy.md describes it for operators.
"""
