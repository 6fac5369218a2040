"""Target of the ``prov4ml_auto.pth`` line; imported only when PROV4ML_ENABLE is set."""

from prov4ml_auto._bootstrap import start

start()
