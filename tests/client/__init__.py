"""AsyncHTTPClient: requests, pooling, TLS (tornadish._client)."""
