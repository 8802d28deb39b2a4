"""The asyncio glue every role shares, without sockets (tornadish._io)."""
