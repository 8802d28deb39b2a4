"""The web core over real sockets: Application, RequestHandler and its parts (tornadish._web)."""
