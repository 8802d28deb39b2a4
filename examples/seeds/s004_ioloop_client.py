"""Seed 004, "TORNADO.IOLOOP EXAMPLE": a socket client registered with
``IOLoop.add_handler`` (after Pika's Tornado adapter).

Verbatim but for ``tornado`` → ``tornadish`` (the slide's flattened line break after
``|`` is a backslash continuation again). ``_handle_events``, which the slide leaves
out, is harness: it reads what arrived and records it.
"""

import socket

import tornadish.ioloop


class MyClient(object):

    def connect(self, host, port):

        # Create our socket
        self.sock = socket.socket(socket.AF_INET,
                                  socket.SOCK_STREAM, 0)
        self.sock.connect((host, port))
        self.sock.setblocking(0)
        self.io_loop = tornadish.ioloop.IOLoop.instance()

        # Append our handler to tornado's ioloop for our socket
        events = tornadish.ioloop.IOLoop.READ | \
                 tornadish.ioloop.IOLoop.ERROR

        self.io_loop.add_handler(self.sock.fileno(),
                                 self._handle_events, events)

    received = b""  # harness
    closed = False  # harness

    def _handle_events(self, fd, events):  # harness
        data = self.sock.recv(4096)  # harness
        self.received += data  # harness
        if not data:  # harness
            self.closed = True  # harness
            self.io_loop.remove_handler(fd)  # harness
            self.sock.close()  # harness
