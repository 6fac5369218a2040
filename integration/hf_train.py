"""A Hugging Face Trainer fine-tuning script, written the way people write them (no prov4ml-auto calls).

A tiny BERT built from a config (nothing is downloaded); JSON-lines files read with `datasets` and tokenised by
a character map; a Trainer subclass (as TRL's trainers are); evaluation and a checkpoint each epoch, the best
model loaded at the end and saved. --init-from loads the model with from_pretrained (a folder or a hub id in
the local cache); --reference loads one more model that way; --evaluate-only runs trainer.evaluate() alone;
--log-history writes the Trainer's log history, to compare runs with and without the agent.
"""

import argparse
import json
import os
import random

import datasets
from transformers import (BertConfig, BertForSequenceClassification, Trainer, TrainingArguments,
                          set_seed)

LENGTH = 16


def write_rows(path, rows, seed):
    generator = random.Random(seed)
    with open(path, "w") as handle:
        for _ in range(rows):
            text = "".join(generator.choice("abcd ") for _ in range(LENGTH))
            handle.write(json.dumps({"text": text, "label": int(text.count("a") > text.count("b"))}) + "\n")


def tokenise(batch):
    ids = [[2 + "abcd ".index(c) for c in text[:LENGTH]] for text in batch["text"]]
    return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}


def accuracy(prediction):
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


class ScoredTrainer(Trainer):
    """A subclass, as TRL's SFTTrainer and friends are: its own __init__ and loss, calling the base's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_calls = 0

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        self.loss_calls += 1
        return super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)


def main():
    parser = argparse.ArgumentParser(description="tiny BERT classifier")
    parser.add_argument("--out", default="hf_out")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--init-from", default=None)
    parser.add_argument("--reference", default=None)
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--resume", default=None, help="a checkpoint folder to resume training from")
    parser.add_argument("--log-history", default=None)
    parser.add_argument("--hub-token", default="hf_secret_token_value")
    parser.add_argument("--logging-strategy", default="steps")
    args = parser.parse_args()

    set_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    files = {"train": os.path.join(args.out, "train.jsonl"), "validation": os.path.join(args.out, "val.jsonl")}
    write_rows(files["train"], 48, seed=1)
    write_rows(files["validation"], 16, seed=2)
    raw = datasets.load_dataset("json", data_files=files, cache_dir=os.path.join(args.out, "datasets_cache"))
    data = raw.map(tokenise, batched=True, remove_columns=["text"])

    if args.init_from:
        model = BertForSequenceClassification.from_pretrained(args.init_from)
    else:
        config = BertConfig(vocab_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=LENGTH, num_labels=2)
        model = BertForSequenceClassification(config)
    if args.reference:
        reference = BertForSequenceClassification.from_pretrained(args.reference)
        print("reference parameters", sum(p.numel() for p in reference.parameters()))

    training = TrainingArguments(
        output_dir=os.path.join(args.out, "checkpoints"), num_train_epochs=args.epochs, learning_rate=5e-3,
        warmup_steps=2, per_device_train_batch_size=8, per_device_eval_batch_size=8, logging_steps=2,
        logging_strategy=args.logging_strategy, eval_strategy="epoch",
        save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="eval_loss", seed=args.seed,
        report_to="none", use_cpu=True, disable_tqdm=True, hub_token=args.hub_token,
    )
    trainer = ScoredTrainer(model=model, args=training, train_dataset=data["train"],
                            eval_dataset=data["validation"], compute_metrics=accuracy)
    if args.evaluate_only:
        print("eval", trainer.evaluate())
    else:
        trainer.train(resume_from_checkpoint=args.resume)
        trainer.save_model(os.path.join(args.out, "final"))
        predicted = trainer.predict(data["validation"])  # logs nothing: not an epoch, no eval_loss row
        print("predict", json.dumps(predicted.metrics))
    if args.log_history:
        with open(args.log_history, "w") as handle:
            json.dump(trainer.state.log_history, handle, indent=1)


if __name__ == "__main__":
    main()
