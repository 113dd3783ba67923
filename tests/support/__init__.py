"""What the tests share: fakes, image builders, result factories, SQS records and the handler loader.

Importable as ``support.*`` (``tests`` is on pytest's pythonpath, see pyproject.toml).
"""
