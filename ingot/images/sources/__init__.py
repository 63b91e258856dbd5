"""Image sources: what an operator's image reference is, and how to get its bytes.

``dispatch`` picks the module for a reference's scheme and is what the conductor calls:

* ``check_reference`` (no I/O, for the API's validate: unknown schemes, malformed
  references and missing instance_info fields are 400s naming the problem);
* ``resolve`` (asks Glance, HEADs the URL, or stats the file) gives an ``ImageSource``;
* ``fetcher`` gives the function the image cache calls to put the bytes in a file.

One module per scheme: ``glance`` (a bare UUID, ``glance://``), ``http``
(``http(s)://``), ``file`` (``file://``, confined to allowed directories), ``swift``
(``swift://container/object``). ``instance_info`` checks what a node must say about
images Glance does not describe.
"""
