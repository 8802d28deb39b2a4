"""WebSockets: handler and client, hostile peers, interop (tornadish.websocket, tornadish._io)."""
