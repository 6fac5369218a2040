"""What the trainer integrations (transformers, lightning) share: guarded hooks on the training thread, and
on the collector the bookkeeping of a trainer's loops, its phases and its entity.

One fact, one record. A trainer's loop (HF ``train``/``evaluate``; Lightning ``fit``/``validate``/``test``/
``predict`` and ``save_checkpoint``) claims the recorder (``Recorder.claim_trainer``) from its first event to
its last; the torch-level handlers consult the claim on the collector, never on the training thread:

| fact                          | plain PyTorch                 | inside a trainer's loop                          |
|-------------------------------|-------------------------------|--------------------------------------------------|
| epochs, evaluations           | torch.data (DataLoader passes)| the trainer's hooks, which link the loaders they |
|                               |                               | iterate (torch.data only describes them)         |
| the run's step count          | torch.optim (outermost steps) | the trainer's global step                        |
| losses and other metrics      | torch.loss                    | what the trainer logs, by its names and steps    |
| checkpoint files saved        | torch.checkpoint              | the trainer (HF: each folder whole; Lightning:   |
|                               |                               | each file; buffer saves dropped); other paths    |
|                               |                               | stay torch.checkpoint's                          |
| each optimizer's steps and lr | torch.optim                   | torch.optim; the Trainer entity links them       |
| models, loaders, datasets     | torch.optim, torch.data       | the same; transformers adds the model config and |
|                               |                               | a ``datasets.Dataset``'s fingerprint and files   |
| files loaded                  | torch.checkpoint              | the same; from_pretrained: transformers          |
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from prov4ml_auto.document import QName
from prov4ml_auto.integrations import _scalars, torch_data, torch_optim
from prov4ml_auto.integrations._identity import IdentityMap
from prov4ml_auto.recorder import Recorder


class TrainerLoops:
    """Collector-side state of one trainer integration: its nested loops, its open phases, its latest
    Trainer entity. The claim is taken when the outermost loop begins and released when it ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.depth = 0
        self.trainer: str | None = None  # the entity of the latest Trainer
        self._trainers: IdentityMap[str] = IdentityMap()

    def at(self, recorder: Recorder, step: int | None) -> None:
        """The trainer's global step is the run's while its loop runs."""
        if step is not None and recorder.trainer == self.name:
            recorder.global_step = step

    def begin_loop(self, recorder: Recorder, step: int | None, folders: Iterable[str] = ()) -> None:
        self.depth += 1
        recorder.claim_trainer(self.name, folders)
        self.at(recorder, step)

    def end_loop(self, recorder: Recorder, time: float, step: int | None) -> None:
        """The outermost loop's end closes what a failure left open and hands the facts back."""
        if self.depth == 0:
            return
        self.at(recorder, step)
        self.depth -= 1
        if self.depth == 0:
            for kind in ("epoch", "evaluation"):
                recorder.end_phase((self.name, kind), time, {"complete": False})
            recorder.release_trainer()

    def begin_phase(self, recorder: Recorder, kind: str, time: float, step: int | None,
                    attributes: Mapping[str, Any]) -> None:
        """An Epoch or Evaluation activity of the trainer's, unless one of this kind is open (an HF evaluate
        of several datasets calls evaluate once per dataset, inside the first)."""
        if (self.name, kind) not in recorder.phases:
            self.at(recorder, step)
            recorder.begin_phase((self.name, kind), kind, time, {"trainer": self.name, **attributes})

    def uses(self, recorder: Recorder, kind: str, loaders: Any) -> None:
        """The open phase of this kind used these DataLoaders (one, or a list or dict of them: Lightning's
        ``*_dataloaders``) and their datasets, described by torch.data."""
        phase = recorder.phases.get((self.name, kind))
        if phase is None:
            return
        for loader in _loaders(loaders):
            for ident in torch_data.describe_loader(recorder, loader):
                recorder.phase_uses(phase, ident)

    def end_phase(self, recorder: Recorder, kind: str, time: float, step: int | None, complete: bool = True) -> None:
        self.at(recorder, step)
        recorder.end_phase((self.name, kind), time, {"complete": complete})

    def describe(self, recorder: Recorder, trainer: Any, time: float, model: Any) -> str:
        """The Trainer entity (one per Trainer object), used by the run, naming the model entity torch.optim
        shares; it becomes the latest."""
        self.trainer = self._trainers.get(trainer) or recorder.numbered("trainer")
        self._trainers[trainer] = self.trainer
        cls = type(trainer)
        return recorder.used_entity(self.trainer, {
            "prov:type": QName("prov4ml:Trainer"), "library": self.name, "class": cls.__qualname__,
            "module": cls.__module__,
            "model": None if model is None else QName(torch_optim.model_id(recorder, model, time)),
        }, time)

    def link_optimizers(self, recorder: Recorder, optimizers: Iterable[Any], schedulers: Iterable[Any]) -> None:
        """Name on the Trainer entity the optimizer and scheduler entities torch.optim recorded (wrappers
        such as accelerate's are looked through)."""
        if self.trainer is None:
            return
        recorder.doc.entity(self.trainer, {"optimizers": _entity_ids(optimizers, "optimizer"),
                                           "schedulers": _entity_ids(schedulers, "scheduler")})

    def log(self, recorder: Recorder, values: Mapping[str, Any], time: float, step: int | None) -> None:
        """Every numeric value the trainer logged, as a series by its own name at the step it was logged at."""
        for name, value in values.items():
            number = _scalars.number(value)
            if number is not None:
                recorder.metric(str(name), number, time, step=step)


def entity_id(obj: Any, wrapper_attribute: str) -> str | None:
    """torch.optim's entity for an optimizer or scheduler, or for the one a wrapper holds."""
    while obj is not None:
        ident = torch_optim.entity_id(obj)
        if ident is not None:
            return ident
        obj = getattr(obj, wrapper_attribute, None)
    return None


def _loaders(value: Any) -> list[Any]:
    """DataLoaders in a trainer's loader attribute; accelerate's wrappers are looked through to the loader
    torch.data sees iterated."""
    from torch.utils.data import DataLoader

    candidates = list(value.values()) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) \
        else [value]
    found = [getattr(candidate, "base_dataloader", candidate) for candidate in candidates]
    return [loader for loader in found if isinstance(loader, DataLoader)]


def _entity_ids(objects: Iterable[Any], wrapper_attribute: str) -> str | None:
    found = [entity_id(obj, wrapper_attribute) for obj in objects]
    return " ".join(ident for ident in found if ident) or None
