"""A warning issued twice from one place a while apart, as a loop's deprecation warnings are (no prov4ml-auto
call): Python shows it once. The agent's collector gathers its facts meanwhile (git, the OS), which must not
make Python forget that it showed it."""

import time
import warnings


def check() -> None:
    warnings.warn("shown once per location", UserWarning)


check()
time.sleep(1.5)
check()
print("done")
