"""torch.utils.data: DataLoaders, datasets and their files; epochs and evaluation passes.

An epoch is a full pass over a DataLoader begun with grad enabled; an evaluation pass is one begun with grad
disabled (no_grad / inference_mode). Training thread: ``DataLoader.__iter__`` appends one tuple per pass and
the loader iterator's ``__next__`` one when it runs out; nothing per batch (the iterator counts its own
batches), and the working directory, against which the collector resolves the relative paths a dataset names
(a script may chdir later, as Hydra's runs do). Collector: describes loaders and datasets, hashes the files
datasets name, opens and closes phases.

Inside a trainer's loop (``Recorder.trainer``) the trainer's hooks open and close the epochs and evaluations
(Lightning's sanity check and HF's evaluation are passes too): a pass then only describes its loader and
dataset, and the trainer links its phases to the loaders it iterates (``describe_loader``): Lightning begins
a pass before its epoch hooks fire, and HF evaluates with grad enabled.
"""

from __future__ import annotations

import io
import os
import sys
import weakref
from types import ModuleType
from typing import Any

from prov4ml_auto import faults
from prov4ml_auto.document import QName
from prov4ml_auto.integrations._identity import IdentityMap
from prov4ml_auto.integrations._patching import Patches, after, guarded, hide_our_frames
from prov4ml_auto.recorder import Recorder

NAME = "torch.data"
TARGETS = ("torch",)
SUPPORTED = {"torch": ("2.0", "3")}

_patches = Patches()
_emit: Any = None
_grad_enabled: Any = None
_threads: Any = None  # torch.get_num_threads: the calling thread's own setting, so read on the training thread
_MAX_ATTRIBUTES = 64
_MAX_LISTED_FILES = 10000  # beyond, the list is one entity "more than 10000 files", unhashed
_WRAPPER_ATTRIBUTES = ("dataset", "datasets", "base_dataset", "data_source")
# Objects a dataset keeps its files in (timm's ImageDataset: ``reader``, ``parser`` before timm 0.9): their
# attributes count as the dataset's own.
_HOLDER_ATTRIBUTES = ("reader", "parser")


def patch(torch: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit, _grad_enabled, _threads
    _emit, _grad_enabled, _threads = emit, torch.is_grad_enabled, torch.get_num_threads
    from torch.utils.data import dataloader

    _patches.wrap(dataloader.DataLoader, "__iter__", after(_loader_iter))
    _patches.replace(dataloader._BaseDataLoaderIter, "__next__", _iterator_next)


def unpatch() -> None:
    _patches.undo()


# --- training thread ---------------------------------------------------------------------------------
@guarded(NAME)
def _loader_iter(loader: Any, args: tuple, kwargs: dict, iterator: Any) -> None:
    tells = _tells_its_first_batch(iterator)
    _emit("pass_begin", loader, id(iterator), _grad_enabled(), os.getcwd(), _threads(), tells)
    _ends_when_dropped(iterator)


def _tells_its_first_batch(iterator: Any) -> bool:
    """A pass's first batch is told once, at no cost per batch after it: an instance attribute shadows the
    iterator's ``_next_data`` (which ``__next__`` looks up on the instance) for one call, then removes itself.
    A pass that has drawn a batch when the first step comes is the one training (``Recorder.training_seen``):
    an iterator opened before the loop (``val_iter = iter(val_loader)``) has drawn none. The attribute holds
    the iterator weakly: a cycle would keep a dropped iterator alive past its ``weakref.finalize``."""
    if not hasattr(type(iterator), "_next_data"):
        return False
    iterator_ref = weakref.ref(iterator)

    def _next_data() -> Any:
        drawing = iterator_ref()
        vars(drawing).pop("_next_data", None)
        try:
            _emit("pass_drawn", id(drawing), _grad_enabled())
        except Exception as exc:
            faults.caught(NAME, exc)
        try:
            return drawing._next_data()
        except BaseException as exc:
            hide_our_frames(exc)
            raise

    try:
        iterator._next_data = _next_data
    except (AttributeError, TypeError):  # slots, or a read-only attribute: its first batch goes untold
        return False
    return True


def _ends_when_dropped(iterator: Any) -> None:
    """An iterator dropped unfinished (``next(iter(loader))``, a ``break``, ``zip()`` over loaders of other
    lengths) ends its pass as it goes, not when its loader is iterated again: the steps in between are not
    that pass's. Not at exit, where the run's end closes what is open."""
    try:
        weakref.finalize(iterator, _emit, "pass_dropped", id(iterator)).atexit = False
    except TypeError:  # a subclass without weak references: its pass ends at the loader's next pass
        pass


def _iterator_next(original: Any) -> Any:
    """Once per batch: the replacement calls ``original`` itself (no wrapper layer, no binding)."""

    def __next__(self: Any) -> Any:
        try:
            return original(self)
        except StopIteration as stop:
            try:
                _emit("pass_end", id(self), self._num_yielded)
            except Exception as exc:
                faults.caught(NAME, exc)
            hide_our_frames(stop)
            raise
        except BaseException as exc:
            hide_our_frames(exc)
            raise

    return __next__


# --- collector ---------------------------------------------------------------------------------------
_loaders: IdentityMap[tuple[str, str]] = IdentityMap()
_open: dict[int, "_Pass"] = {}  # id(iterator) -> pass
_datasets: dict[tuple, tuple[Any, str]] = {}  # identity -> (dataset, entity id); datasets may not allow weakrefs
_threads_recorded: list[int] = []  # the training thread's torch thread count as last recorded


class _Pass:
    """An open pass. Facts about its loader are taken when it begins: the collector may only get to the
    pass's end after the training function returned and the loader is gone."""

    def __init__(self, loader_id: int, samples: int | None) -> None:
        self.loader_id = loader_id
        self.samples = samples


def _on_pass_begin(recorder: Recorder, time: float, loader: Any, iterator_id: int, training: bool, cwd: str,
                   threads: int, tells_first_batch: bool) -> None:
    recorder.cwd = cwd
    if _threads_recorded != [threads]:  # as the training thread has it (set after import, often); on a change only
        _threads_recorded[:] = [threads]
        recorder.environment({"torchThreads": threads})
    for key, previous in list(_open.items()):
        # A new pass over a loader abandons its unfinished one. So does a new iterator with the id of an
        # abandoned one that is gone (zip() over two loaders, left by a break: the shorter one's iterator
        # never raised StopIteration).
        if previous.loader_id == id(loader) or key == iterator_id:
            _end(recorder, key, time, None)
    loader_ident, dataset_ident = describe_loader(recorder, loader)
    if recorder.trainer is not None:
        return
    recorder.begin_pass(iterator_id, time, training, {"loader": QName(loader_ident)}, (loader_ident, dataset_ident),
                        tells_first_batch)
    _open[iterator_id] = _Pass(id(loader), _samples_in_full_pass(loader))


def _on_pass_end(recorder: Recorder, time: float, iterator_id: int, batches: int) -> None:
    _end(recorder, iterator_id, time, batches)


def _on_pass_dropped(recorder: Recorder, time: float, iterator_id: int) -> None:
    """Every iterator ends so, a finished one after its pass ended (and before its id can be reused)."""
    if iterator_id in _open:
        _end(recorder, iterator_id, time, None)


def _end(recorder: Recorder, iterator_id: int, time: float, batches: int | None) -> None:
    """Close a pass; ``batches`` is None when it was abandoned (break, or the run ended first)."""
    entry = _open.pop(iterator_id, None)
    attributes: dict[str, Any] = {"complete": batches is not None}
    if batches is not None:
        attributes["batches"] = batches
        attributes["samples"] = entry.samples if entry else None
    recorder.end_pass(iterator_id, time, batches is not None, attributes)


def _samples_in_full_pass(loader: Any) -> int | None:
    """Exact only when the sampler has a length and the loader batches it itself."""
    batch_size = getattr(loader, "batch_size", None)
    try:
        count = len(loader.sampler)
    except Exception:
        return None
    if batch_size is None:
        return None
    return count - count % batch_size if loader.drop_last else count


def describe_loader(recorder: Recorder, loader: Any) -> tuple[str, str]:
    """The loader's and its dataset's entities, used by the run; described once per loader."""
    known = _loaders.get(loader)
    if known is not None:
        return known
    dataset_ident = describe_dataset(recorder, loader.dataset)
    batch_sampler = getattr(loader, "batch_sampler", None)
    batches = _innermost_batch_sampler(batch_sampler)
    own = getattr(batches, "sampler", None)
    sampler = own if own is not None else getattr(loader, "sampler", None)
    ident = recorder.used_entity(recorder.numbered("dataloader"), {
        "prov:type": QName("prov4ml:DataLoader"),
        "batchSize": loader.batch_size if loader.batch_size is not None else getattr(batches, "batch_size", None),
        "shuffle": _shuffles(sampler),
        "sampler": type(sampler).__qualname__,
        "batchSampler": type(batch_sampler).__qualname__,
        "numWorkers": loader.num_workers,
        "dropLast": loader.drop_last,
        "persistentWorkers": getattr(loader, "persistent_workers", None),
        "pinMemory": getattr(loader, "pin_memory", None),
        "batches": _safe_len(loader),
        "dataset": QName(dataset_ident),
    })
    recorder.doc.relation("wasDerivedFrom", {"prov:generatedEntity": ident, "prov:usedEntity": dataset_ident})
    _loaders[loader] = (ident, dataset_ident)
    return ident, dataset_ident


def _innermost_batch_sampler(batch_sampler: Any) -> Any:
    """The batch sampler under wrappers that hold one (accelerate's SkipBatchSampler, when a resumed epoch
    skips its first batches): its sampler orders the samples. A loader given a batch sampler (Hugging Face's,
    through accelerate) keeps a SequentialSampler of its own that it never uses."""
    for _ in range(8):  # a bound, not a depth anyone nests
        inner = getattr(batch_sampler, "batch_sampler", None)
        if inner is None or inner is batch_sampler:
            break
        batch_sampler = inner
    return batch_sampler


def _shuffles(sampler: Any) -> bool:
    """DistributedSampler says so itself; torch's random samplers, and their subclasses, do."""
    from torch.utils.data import RandomSampler, SubsetRandomSampler, WeightedRandomSampler

    flag = getattr(sampler, "shuffle", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(sampler, (RandomSampler, SubsetRandomSampler, WeightedRandomSampler))


def describe_dataset(recorder: Recorder, dataset: Any) -> str:
    """A dataset entity, derived from the files its attributes name and from the datasets it wraps.
    Described once per object: a train and a validation Subset of one dataset share its entity."""
    key = _identity(dataset)
    known = _datasets.get(key)
    if known is not None and (key[0] == "content" or known[0] is dataset):
        return known[1]
    ident = recorder.used_entity(recorder.numbered("dataset"), {
        "prov:type": QName("prov4ml:Dataset"),
        "class": type(dataset).__qualname__,
        "module": type(dataset).__module__,
        "length": _safe_len(dataset),
        "iterable": _is_iterable_dataset(dataset),
    })
    _datasets[key] = (dataset, ident)
    for source in _sources(recorder, dataset):
        recorder.doc.relation("wasDerivedFrom", {"prov:generatedEntity": ident, "prov:usedEntity": source})
    _arrow_facts(recorder, ident, dataset)
    return ident


def _arrow_facts(recorder: Recorder, ident: str, dataset: Any) -> None:
    """A Hugging Face ``datasets.Dataset`` (in a Trainer or a plain loop): its fingerprint, features and the
    cache files behind it. Looked up, never imported: only a script that imported ``datasets`` has one."""
    arrow = sys.modules.get("datasets")
    if arrow is None or not isinstance(dataset, arrow.Dataset):
        return
    recorder.doc.entity(ident, {"fingerprint": getattr(dataset, "_fingerprint", None), "rows": dataset.num_rows,
                                "features": str(dataset.features), "split": str(dataset.split or "") or None,
                                "builder": dataset.info.builder_name})
    paths = [entry["filename"] for entry in dataset.cache_files]
    if paths:
        files = recorder.files_entity(paths, "prov4ml:DataFiles", {"attribute": "cache_files"})
        recorder.doc.relation("wasDerivedFrom", {"prov:generatedEntity": ident, "prov:usedEntity": files})


def _identity(dataset: Any) -> tuple:
    """A dataset naming its content (a Hugging Face ``datasets.Dataset``'s fingerprint, shared by the copies a
    Trainer makes for each DataLoader) is one entity per content; any other, one per object."""
    try:
        fingerprint = vars(dataset).get("_fingerprint")
    except Exception:
        fingerprint = None
    return ("content", fingerprint) if isinstance(fingerprint, str) else ("object", id(dataset))


def _sources(recorder: Recorder, dataset: Any, held: bool = False) -> list[str]:
    import torch

    found: list[str] = []
    for name, value in _attributes(dataset):
        if name in _HOLDER_ATTRIBUTES and not held and not _is_dataset(value) and hasattr(value, "__dict__"):
            found.extend(_sources(recorder, value, held=True))
        elif name in _WRAPPER_ATTRIBUTES and _is_dataset(value):
            found.append(describe_dataset(recorder, value))
        elif name in _WRAPPER_ATTRIBUTES and isinstance(value, (list, tuple)) and value and _is_dataset(value[0]):
            found.extend(describe_dataset(recorder, inner) for inner in value[:16])
        elif isinstance(value, (str, os.PathLike)) and _exists(path := _resolved(recorder, value)):
            kind = "prov4ml:DataFiles" if os.path.isdir(path) else "prov4ml:DataFile"
            found.append(recorder.file_entity(path, kind, {"attribute": name}))
        elif (listed := _listed_paths(value)) and _exists(_resolved(recorder, listed[0])):
            paths = [_resolved(recorder, path) for path in listed[:_MAX_LISTED_FILES + 1]]
            found.append(recorder.files_entity(paths, "prov4ml:DataFiles", {"attribute": name, "files": len(listed)},
                                               _MAX_LISTED_FILES))
        elif (backing := _backing_file(value)) and _exists(path := _resolved(recorder, backing)):
            found.append(recorder.file_entity(path, "prov4ml:DataFile", {"attribute": name}))
        elif isinstance(value, torch.Tensor):
            found.append(_tensor(recorder, name, value))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value[:8]):
            found.extend(_tensor(recorder, f"{name}[{i}]", v) for i, v in enumerate(value[:8]))
    return found


def _attributes(obj: Any) -> list[tuple[str, Any]]:
    """The instance attributes, guarded: hostile classes may raise or lie from __dict__/__getattr__."""
    try:
        items = list(vars(obj).items())[:_MAX_ATTRIBUTES]
    except Exception:
        return []
    return [(str(name), value) for name, value in items]


def _is_iterable_dataset(value: Any) -> bool:
    from torch.utils.data import IterableDataset

    return isinstance(value, IterableDataset)


def _is_dataset(value: Any) -> bool:
    from torch.utils.data import Dataset

    return isinstance(value, Dataset)


def _exists(value: Any) -> bool:
    try:
        return bool(value) and os.path.exists(value)
    except (OSError, ValueError, TypeError):
        return False


def _listed_paths(value: Any) -> list | None:
    """A list of paths, or of samples that start with one (ImageFolder's ``samples``: (path, class))."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if all(isinstance(item, (str, os.PathLike)) for item in value[:8]):
        return list(value)
    if all(isinstance(item, (tuple, list)) and item and isinstance(item[0], (str, os.PathLike)) for item in value[:8]):
        return [item[0] for item in value]
    return None


def _backing_file(value: Any) -> str | None:
    """The file behind an object read from it: a numpy memmap (nanoGPT's data), an h5py File, an open file."""
    try:
        name = getattr(value, "filename", None)
        if name is None and isinstance(value, io.IOBase):
            name = getattr(value, "name", None)
    except Exception:  # a hostile attribute
        return None
    return os.fspath(name) if isinstance(name, (str, os.PathLike)) else None


def _resolved(recorder: Recorder, path: Any) -> str:
    """A path a dataset names, absolute as the training thread saw it when its pass began."""
    try:
        return os.path.normpath(os.path.join(recorder.cwd, os.fspath(path)))
    except (TypeError, ValueError):
        return ""


def _tensor(recorder: Recorder, name: str, tensor: Any) -> str:
    attributes: dict[str, Any] = {"prov:type": QName("prov4ml:TensorData"), "attribute": name,
                                  "shape": "x".join(str(s) for s in tensor.shape), "dtype": str(tensor.dtype),
                                  "device": str(tensor.device)}
    if recorder.fingerprint_tensors and tensor.device.type != "meta":
        attributes["sha256"] = _tensor_digest(tensor)
    return recorder.doc.entity(recorder.numbered("tensor"), attributes)


def _tensor_digest(tensor: Any) -> str:
    import hashlib

    import torch

    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return hashlib.sha256(flat.view(torch.uint8).numpy().tobytes()).hexdigest()


def _safe_len(obj: Any) -> int | None:
    try:
        value = len(obj)
    except Exception:
        return None
    return value if isinstance(value, int) else None


def _on_pass_drawn(recorder: Recorder, time: float, iterator_id: int, grad_enabled: bool) -> None:
    recorder.pass_drawn(iterator_id, grad_enabled)


HANDLERS = {"pass_begin": _on_pass_begin, "pass_end": _on_pass_end, "pass_dropped": _on_pass_dropped,
            "pass_drawn": _on_pass_drawn}
