"""A job that never imports torch (data preparation, evaluation scripts): the agent must stay harmless."""

import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=3)
args = parser.parse_args()
print(json.dumps({"rows": args.rows, "torch_imported": "torch" in sys.modules}))
