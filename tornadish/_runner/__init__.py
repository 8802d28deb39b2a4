"""Layer 5, with the public face: ``tornadish.run`` (processes, signals, graceful
shutdown), ``tornadish.serve`` (embedding in a loop you own) and the command line's
``loading`` of ``module:app``.

Rule: nothing below the face imports this folder.
"""
