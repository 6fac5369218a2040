"""System metrics for provenance: host facts, process samples, GPU (NVML) and energy.

Everything here returns plain dicts and reports missing hardware, files or
permissions as data (an 'unavailable: <reason>' value or an absent key)
instead of raising, because it runs inside someone else's training job.

This package imports nothing on its own: the agent imports ``recording`` at
interpreter start, and psutil (imported by the probe modules) must only load
later, on the collector thread.
"""
