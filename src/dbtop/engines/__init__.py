"""Engine adapters: one package per engine, each behind the protocol in ``base``."""
