"""What the producer, the workers and the CLI agree on, without I/O: settings, errors, names, the
batch wire format, the outline model, languages and parser versions."""
