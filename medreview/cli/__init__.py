"""The ``medreview`` command: one module per subcommand (``cmd_<name>.py``)."""
