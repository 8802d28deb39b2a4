"""Local stand-ins for libraries the seeds import that are dead, unavailable or need a
server that cannot be installed here. Each is the smallest faithful shim of the API the
seed uses; see examples/seeds/README.md.
"""
