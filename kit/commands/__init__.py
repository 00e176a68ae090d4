"""What the kit's commands do, one module per concern; ``kit/cli.py`` only parses the arguments,
resolves the environment (``kit.deploy.resolve``) and calls these.

Deploy and rollback live in ``kit/deploy.py``, bootstrap in ``kit/bootstrap.py``, the operations
(redrive, replay, status) in ``kit/ops.py``.
"""
