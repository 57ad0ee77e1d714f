"""Fan-reaction monitor: poll feeds for mentions of tracked topics, score, store, flag spikes."""

__version__ = "0.1.0"
