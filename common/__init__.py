"""The contract both sides of the fleet share: settings, errors, names, batch format, outline model.

Import arrows point one way: ``parsefleet`` (CLI, launcher) -> ``producer`` / ``workers`` -> ``common``.
The producer never imports worker code and the workers never import the producer.
"""
