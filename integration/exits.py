"""A script that ends with sys.exit(code), as argparse-driven tools do."""

import sys

print("about to exit")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
