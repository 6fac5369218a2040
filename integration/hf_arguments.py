"""Arguments as Hugging Face's example scripts read them when given one file: HfArgumentParser filling its
dataclasses from a JSON file (``python hf_arguments.py config.json``), which argparse never sees. The last
stdout line is JSON: the values the script got."""

import dataclasses
import json
import sys

from transformers import HfArgumentParser


@dataclasses.dataclass
class ModelArguments:
    hidden_size: int = 16
    dropout: float = 0.1


@dataclasses.dataclass
class DataArguments:
    dataset: str = "toy"
    max_length: int = 32
    api_token: str = ""


model_args, data_args = HfArgumentParser((ModelArguments, DataArguments)).parse_json_file(sys.argv[1])
print(json.dumps({**dataclasses.asdict(model_args), **dataclasses.asdict(data_args)}))
