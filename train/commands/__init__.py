"""The training package's ``damer`` sub-commands: ``train``, ``eval`` and ``ablate``."""
