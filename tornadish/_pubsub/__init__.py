"""Publish/subscribe across processes: the machinery behind :mod:`tornadish.pubsub`.

Rules of this layer (a peer of ``_server``, ``_client``, ``_asgi`` and ``_template``,
importing none of them, nor anything of HTTP: a ``Broadcast`` carries data, whoever
sends it on):

1. One module, one job: ``message`` (the vocabulary: messages, gap markers, errors, the
   data codec), ``queue`` (one subscriber's bounded queue and its overflow policy),
   ``subscription`` (replay, then live), one module per backend (``memory``,
   ``redis_backend``), and ``broadcast`` (the URL to a backend).
2. Memory is bounded wherever a peer can be slow: a subscriber's queue has a bound and
   an explicit overflow policy; a replay is read a page at a time.
3. Loss is never silent: where messages may be missing, the subscriber receives a gap
   marker at that place in its stream.
4. Redis is spoken only through redis-py (an optional extra, imported when a
   ``redis://`` broadcast is made): ``memory://`` works without it.
"""
