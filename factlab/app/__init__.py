"""The steward's app: the whole step in the browser, served from this computer only.

``factlab app`` (:func:`factlab.app.server.serve`) starts a web server on 127.0.0.1 and opens the
browser on it. The pages walk the steward through the keys, the export, the mapping, the preview
and the delivery, calling the library functions the command-line tool calls; docs/app.md and the
steward's guide (docs/steward.md) say how to use it.

Modules: ``server`` (routes and the server), ``security`` (host, token, cookie, origin, headers),
``flow`` (the steps as library calls), ``delivery`` (pseudonymise and seal in a worker thread),
``pages`` and ``layout`` (the pages, escaped), ``problems`` (errors in plain words), ``settings``
(what is remembered beside the key), ``static/`` (one stylesheet, one script).
"""
