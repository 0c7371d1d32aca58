"""Web outputs of ``damer stream``: the live browser monitor (``--monitor``) and the WebSocket output for web
visuals (``--ws``).

Both run a WebSocket server (the ``websockets`` library) on an asyncio loop in a thread of its own; the
engine hands each update over without waiting (:meth:`~streamer.monitor.server.WebServer.submit`) and each
client gets the newest messages through a bounded queue of its own, so clients connecting, stalling or
vanishing never hold the engine (or the OSC output) back.

Modules: :mod:`~streamer.monitor.address` (``[HOST:]PORT``), :mod:`~streamer.monitor.policy` (which
requests are served), :mod:`~streamer.monitor.assets` (the page), :mod:`~streamer.monitor.server` (the
server thread), :mod:`~streamer.monitor.feed` (what the page is sent), :mod:`~streamer.monitor.emitter`
(the engine outputs).
"""
