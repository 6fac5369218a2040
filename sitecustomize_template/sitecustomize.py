"""prov4ml-auto for a whole cluster image or module tree.

Copy this file into the image's site-packages as ``sitecustomize.py`` (or append its body to the image's
existing one). Every Python process then records itself when PROV4ML_ENABLE=1 is set (for example in an
environment module) and costs nothing when it is not. Needs prov4ml-auto installed in that environment.
"""

import os

if os.environ.get("PROV4ML_ENABLE", "").strip().lower() in ("1", "true", "yes", "on"):
    try:
        from prov4ml_auto._bootstrap import start

        start()
    except ImportError:
        pass
