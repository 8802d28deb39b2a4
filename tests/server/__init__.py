"""HTTPServer over real sockets: connections, limits, timeouts, flow control (tornadish._server)."""
