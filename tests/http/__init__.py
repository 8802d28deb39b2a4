"""Sans-IO HTTP/1.1: the h11 session, parsing and headers, no sockets (tornadish._http)."""
