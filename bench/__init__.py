"""The performance harness: what the agent costs the training thread, the job and the machine.

``python -m bench`` (or ``python bench/run.py``) runs every section and writes ``bench/results.json``;
``--smoke`` runs each section tiny, so CI proves the harness still works. See ``bench/run.py``.
"""
