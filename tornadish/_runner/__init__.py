"""Layer 5, with the public face: ``tornadish.run`` (processes, signals, graceful
shutdown) and ``tornadish.serve`` (embedding in a loop you own).

Rule: nothing below the face imports this folder.
"""
