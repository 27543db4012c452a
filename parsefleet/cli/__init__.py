"""The ``parsefleet`` command: ``main`` parses options, ``commands`` does what each one means."""
