"""OpenStack Swift for ingot: temporary URLs for images, their shared cache, config drives.

The conductor uses ``service.SwiftService``; the modules behind it do one job each:

* ``settings``: the [glance], [swift], [deploy] and [conductor] options, read and checked;
* ``connection``: swiftclient Connections from the [swift] keystoneauth1 options;
* ``locations``: endpoint/account/container/object of Glance images and ``swift://`` refs;
* ``keys``: the temp URL key, configured or the account's Temp-URL-Key;
* ``tempurl``: signing (swiftclient's generate_temp_url, sha256 by default);
* ``cache``: the database-backed temp URL cache every conductor shares;
* ``objects`` and ``configdrive``: uploads with X-Delete-After, HEAD, delete.

No key, token or signature goes into a log, an exception or a repr: TempURL's repr
masks ``temp_url_sig``, and the cache table stores an expiry, not the URL.
"""
