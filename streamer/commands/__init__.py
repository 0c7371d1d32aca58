"""The ``damer stream``, ``damer analyze`` and ``damer devices`` sub-commands (entry points, see pyproject)."""
