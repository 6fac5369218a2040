"""torch.optim: optimizers (settings, steps, setting changes), LR schedulers and the models they train.

Training thread: one global step post hook (torch >= 2.0) per step, appending a tuple with the learning
rates used and the loss of the backward before it (torch_loss); a scheduler step (every batch, in many loops)
appends the groups' numeric settings as a flat tuple of numbers; construction and state loads append snapshots
of the groups' settings.
Collector: counts each optimizer's steps, records the loss a step carried, turns setting changes into
series, describes optimizers, schedulers and models.

The run's step is the furthest any optimizer has gone, each counted from the run's step when it was
created: optimizers stepped together (a GAN's two, a wrapper and the one it steps) advance it once per
iteration, and an optimizer created later (a second fine-tuning stage) carries on from where the run is.
Inside a trainer's loop (``Recorder.trainer``) the trainer owns the run's step count (its global step, which
counts skipped and accumulated steps its own way); each optimizer's own count stays here. Trainers describe
no optimizer, scheduler or model again: they add to the entities recorded here (``entity_id``, ``model_id``).
"""

from __future__ import annotations

import hashlib
import inspect
import operator
import sys
from types import ModuleType
from typing import Any

from prov4ml_auto import collector, faults
from prov4ml_auto.document import QName, bounded_repr
from prov4ml_auto.events import carried, now
from prov4ml_auto.integrations import _scalars, torch_loss
from prov4ml_auto.integrations._identity import IdentityMap
from prov4ml_auto.integrations._patching import (Nesting, Patches, after, argument, guarded, hide_our_frames,
                                                 outermost)
from prov4ml_auto.recorder import Recorder

NAME = "torch.optim"
TARGETS = ("torch",)
SUPPORTED = {"torch": ("2.0", "3")}

_patches = Patches()
_hook_handles: list[Any] = []
_emit: Any = None
_emit_hot: Any = None
# training-thread view: optimizers that finished __init__, with the keys of their numeric settings (lr,
# momentum, weight_decay...: what a scheduler step reports), and whether some of those are one-value tensors
# (``lr=torch.tensor(0.01)``, as compiled and capturable optimizers want it), which schedulers change in place
_numeric_keys: IdentityMap[tuple[tuple[str, ...], bool]] = IdentityMap()
_REPORT_EVERY = 1.0
_SCALARS = (int, float, bool, str, type(None))
_learning_rate = operator.itemgetter("lr")


def patch(torch: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit, _emit_hot
    _emit, _emit_hot = emit, emit_hot
    from torch.optim import lr_scheduler, optimizer, swa_utils

    _patches.wrap(optimizer.Optimizer, "__init__", _optimizer_init)
    _patches.wrap(optimizer.Optimizer, "load_state_dict", _settings_changed("state_loaded"))
    _patches.wrap(optimizer.Optimizer, "add_param_group", _settings_changed("group_added"))
    constructing = Nesting()
    for scheduler in _scheduler_classes(lr_scheduler, swa_utils):
        _patches.wrap(scheduler, "__init__", outermost(_scheduler_init(scheduler), constructing))
    _patches.replace(lr_scheduler.LRScheduler, "step", _scheduler_step)
    _hook_handles.append(optimizer.register_optimizer_step_post_hook(_after_step))
    collector.periodic.append(_report_steps)
    emit("framework", torch.get_num_threads())


def unpatch() -> None:
    while _hook_handles:
        _hook_handles.pop().remove()
    if _report_steps in collector.periodic:
        collector.periodic.remove(_report_steps)
    _patches.undo()


# --- training thread ---------------------------------------------------------------------------------
def _after_step(opt: Any, args: Any, kwargs: Any) -> None:
    """The event carries the loss of the backward before it (torch_loss), or None. It is flat, and names the
    optimizer by ``id()``: a tuple of numbers (learning rates are floats) leaves the garbage collector's
    tracking at its first collection, where one holding the optimizer, or a tuple of its own, is promoted to
    the old generation while it waits; a million steps of those brought on a full collection (150 ms)."""
    try:
        _emit_hot((now(), "step", id(opt), carried.pop() if carried else None, *map(_learning_rate, opt.param_groups)))
    except Exception as exc:
        faults.caught(NAME, exc)


def _tensor_rates_used(opt: Any, args: Any, kwargs: Any) -> None:
    """An optimizer whose learning rates are tensors: the values each step used, read now (the step event
    holds the tensors, which a scheduler, SequentialLR's milestone, ReduceLROnPlateau or the script changes in
    place). Its own hooks run before the global one: this event comes just before its step's."""
    try:
        _emit_hot((now(), "rates_used", id(opt), *[_snapshot_if_tensor(group["lr"]) for group in opt.param_groups]))
    except Exception as exc:
        faults.caught(NAME, exc)


def _group_settings(opt: Any) -> list[dict[str, Any]]:
    """Every number, bool and string a group holds (lr, momentum, betas...), copied at this moment (a
    one-value tensor's value too: a scheduler changes it in place)."""
    out = []
    for group in opt.param_groups:
        settings = {}
        for key, value in group.items():
            if key == "params":
                continue
            if isinstance(value, tuple) and all(isinstance(item, (int, float)) for item in value):
                settings[key] = value
            elif isinstance(value, _SCALARS):
                settings[key] = value
            elif _is_one_value_tensor(value):
                settings[key] = _snapshot(value)
        out.append(settings)
    return out


def _is_one_value_tensor(value: Any) -> bool:
    return isinstance(value, sys.modules["torch"].Tensor) and value.numel() == 1


def _snapshot(value: Any) -> Any:
    """A one-value tensor setting as it is now: a CPU one's number, a device one's copy (read on the
    collector: reading it here would wait for the GPU)."""
    return value.item() if value.is_cpu else value.detach().clone()


def _snapshot_if_tensor(value: Any) -> Any:
    return _snapshot(value) if _is_one_value_tensor(value) else value


def _optimizer_init(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    params = args[0] if args else kwargs.get("params")
    owners = _modules_behind(params)
    result = wrapped(*args, **kwargs)
    try:
        first_group = instance.param_groups[0] if instance.param_groups else {}
        tensors = tuple(key for key, value in first_group.items() if _is_one_value_tensor(value))
        numbers = tuple(key for key, value in first_group.items() if type(value) in (int, float))
        _numeric_keys[instance] = (numbers + tensors, bool(tensors))
        if "lr" in tensors:
            _hook_handles.append(instance.register_step_post_hook(_tensor_rates_used))
        _emit("optimizer", instance, type(instance).__qualname__, _group_settings(instance), owners)
    except Exception as exc:
        faults.caught(NAME, exc)
    return result


def _modules_behind(params: Any) -> list[Any]:
    """Candidate modules behind the optimizer's parameters, found before the generators are consumed:
    ``model.parameters()`` is a generator whose frame holds the module as ``self``; and the modules among
    the local variables of the code that builds the optimizer (the whole model, when groups name parts)."""
    import torch

    sources = params if isinstance(params, (list, tuple)) else [params]
    found = []
    for source in sources:
        source = source.get("params") if isinstance(source, dict) else source
        frame = getattr(source, "gi_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        if isinstance(owner, torch.nn.Module):
            found.append(owner)
    frame = sys._getframe(1)
    while frame is not None and any(part in frame.f_code.co_filename for part in ("torch/optim", "prov4ml_auto")):
        frame = frame.f_back
    if frame is not None:
        found.extend(value for value in frame.f_locals.values() if isinstance(value, torch.nn.Module))
    return found


def _settings_changed(reason: str):
    @guarded(NAME)
    def record(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
        if instance in _numeric_keys:
            _emit("optimizer_settings", instance, _group_settings(instance), _loaded_or(reason, args, kwargs))
    return after(record)


def _loaded_or(reason: str, args: tuple, kwargs: dict) -> str:
    """A state load is one only when it brings per-parameter state (momentum, Adam's moments): accelerate's
    optimizer wrapper loads a new optimizer's own empty state into it, to move it to the device."""
    loaded = argument(args, kwargs, 0, "state_dict")
    if reason == "state_loaded" and not (isinstance(loaded, dict) and loaded.get("state")):
        return "settings_loaded"
    return reason


def _scheduler_classes(lr_scheduler: ModuleType, swa_utils: ModuleType) -> list[type]:
    """Every scheduler class of torch's (SWALR included) with a constructor of its own: ReduceLROnPlateau,
    SequentialLR and ChainedScheduler never call LRScheduler's, and the others' arguments (OneCycleLR's max_lr)
    are not all kept as attributes. A user's scheduler is described by the outermost of these its constructor
    calls."""
    bases = tuple(cls for cls in (getattr(lr_scheduler, "LRScheduler", None),
                                  getattr(lr_scheduler, "ReduceLROnPlateau", None)) if isinstance(cls, type))
    return [cls for module in (lr_scheduler, swa_utils) for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, bases) and "__init__" in vars(cls)]


def _scheduler_init(cls: type) -> Any:
    """The record of a scheduler's construction through ``cls.__init__``: its public settings (attributes of
    numbers, text and sequences), then the arguments that constructor was given, defaults included."""

    @guarded(NAME)
    def record(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
        settings = {key: value for key, value in vars(instance).items()
                    if not key.startswith("_") and isinstance(value, _SCALARS + (tuple, list))}
        bound = inspect.signature(vars(cls)["__init__"]).bind(instance, *args, **kwargs)
        bound.apply_defaults()
        settings.update((key, value) for key, value in list(bound.arguments.items())[1:]
                        if isinstance(value, _SCALARS + (tuple, list)))
        _emit("scheduler", instance, type(instance).__qualname__, getattr(instance, "optimizer", None), settings)

    return record


def _scheduler_step(original: Any) -> Any:
    """Once per step in many loops: the replacement calls ``original`` itself (no wrapper layer), and its event
    holds numbers only, like the step event (see _after_step). A full snapshot of the groups' settings, dicts
    and all, through a wrapper, cost about 20 µs a step in a loop whose scheduler steps every batch."""

    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        try:
            optimizer = getattr(self, "optimizer", None)
            known = _numeric_keys.get(optimizer)
            if known is None:  # a wrapper's (accelerate's, as a Hugging Face Trainer schedules its optimizer)
                optimizer = getattr(optimizer, "optimizer", None)
                known = _numeric_keys.get(optimizer)
            if known is not None:
                keys, tensors = known
                values = [group.get(key) for group in optimizer.param_groups for key in keys]
                _emit_hot((now(), "scheduled", id(optimizer), keys,
                           *(map(_snapshot_if_tensor, values) if tensors else values)))
        except Exception as exc:
            faults.caught(NAME, exc)
        return result

    return step


# --- collector ---------------------------------------------------------------------------------------
class _OptimizerState:
    """What the collector knows of one optimizer: its id, steps, and the settings last seen per group."""

    def __init__(self, ident: str, number: int, settings: list[dict[str, Any]], first_step: int) -> None:
        self.ident = ident
        self.number = number
        self.steps = 0
        self.offset = first_step  # the run's step when this optimizer appeared
        self.at = first_step  # the run's step at this optimizer's latest step (one stepping less often lags)
        self.first_at: int | None = None  # the run's step at its first step
        self.owner = f"optimizer{number}"  # its settings' series are named after it
        self.phases_told = -1  # the recorder's phase_changes when it was last told this optimizer stepped
        self.reported_steps = -1
        self.settings = [dict(group) for group in settings]
        self.last_lrs: tuple = ()  # as the last step event carried them: most steps change nothing
        self.scheduled: tuple = ()  # the numeric settings as the last scheduler step left them
        self.unused_rows: set[str] = set()  # series whose latest value no step has used yet


_seen: IdentityMap[_OptimizerState] = IdentityMap()
_states: list[_OptimizerState] = []  # outlives the optimizers: their final counts are written at exit
# id(optimizer) -> state, for step events. An id may be reused once its optimizer is gone, but never before
# that optimizer's last step event: the new optimizer's construction event comes after it, and takes the id over.
_by_id: dict[int, _OptimizerState] = {}
_models: IdentityMap[str] = IdentityMap()
_schedulers: IdentityMap[str] = IdentityMap()


def entity_id(obj: Any) -> str | None:
    """The entity recorded here for an optimizer or an LR scheduler (collector thread)."""
    state = _seen.get(obj)
    return state.ident if state is not None else _schedulers.get(obj)


def _on_framework(recorder: Recorder, time: float, threads: int) -> None:
    """torch imported; its thread count is the importing thread's (a thread's own setting: torch.data reads
    it again as each pass begins)."""
    recorder.environment({**_torch_facts(), "torchThreads": threads})


def _torch_facts() -> dict[str, Any]:
    """torch's build and the settings a run sets before it trains (deterministic algorithms, the GPUs once
    CUDA is up): read when torch is imported, and again at the first training step (``_on_steps``)."""
    torch = sys.modules["torch"]
    facts: dict[str, Any] = {
        "torch": torch.__version__,
        "torchCuda": torch.version.cuda or "none (CPU build)",
        "torchDeterministic": torch.are_deterministic_algorithms_enabled(),
    }
    if torch.cuda.is_initialized():
        facts["cudnn"] = str(torch.backends.cudnn.version())
        facts["gpus"] = "; ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return facts


def _on_optimizer(recorder: Recorder, time: float, opt: Any, cls: str, settings: list[dict], owners: list) -> None:
    """An optimizer appears at the run's step; one below the furthest any optimizer went comes with a count
    that started over (a new Trainer's fit, after another's or after Lightning's learning-rate finder)."""
    global _furthest
    settings = _device_values_read(settings)
    ident = recorder.numbered("optimizer")
    state = _OptimizerState(ident, int(ident.rsplit("/", 1)[1]), settings, recorder.global_step)
    _furthest = min(_furthest, state.offset)
    _seen[opt] = state
    _by_id[id(opt)] = state
    _states.append(state)
    attributes: dict[str, Any] = {"prov:type": QName("prov4ml:Optimizer"), "class": cls,
                                   "module": type(opt).__module__, **_groups_described(opt, settings, 0)}
    models = _owning_modules(owners, {id(p) for group in opt.param_groups for p in group["params"]})
    attributes["models"] = " ".join(model_id(recorder, model, time) for model in models) or None
    recorder.used_entity(ident, attributes, time)
    _start_lr_rows(recorder, state, settings, 0, time, state.offset + 1)


def _groups_described(opt: Any, settings: list[dict], first: int) -> dict[str, Any]:
    """The groups' count, the settings of the groups from ``first`` on, and the parameters of all."""
    params = [p for group in opt.param_groups for p in group["params"]]
    described: dict[str, Any] = {"groups": len(settings), "tensors": len(params),
                                 "parameters": sum(p.numel() for p in params)}
    for number, group in enumerate(settings[first:], first):
        described.update({f"group{number}.{key}": _plain(value) for key, value in group.items()})
    return described


def _start_lr_rows(recorder: Recorder, state: _OptimizerState, settings: list[dict], first: int, time: float,
                   step: int) -> None:
    """Each group's learning rate series starts with its value when the group appeared."""
    for number, group in enumerate(settings[first:], first):
        if isinstance(_plain(group.get("lr")), float):
            _record_setting(recorder, state, _series_name(state, number, "lr"), float(_plain(group["lr"])), time,
                            step)


def _owning_modules(candidates: list, param_ids: set[int]) -> list:
    """Top-level modules among the candidates that hold some of the optimizer's parameters."""
    holding = [m for m in candidates if any(id(p) in param_ids for p in m.parameters())]
    inner = {id(sub) for m in holding for sub in m.modules() if sub is not m}
    unique = {id(m): m for m in holding if id(m) not in inner}
    return list(unique.values())


def model_id(recorder: Recorder, module: Any, time: float) -> str:
    """The module's entity, recorded on first sight: one entity per model whoever sees it first. A wrapper
    (``torch.compile``'s, DDP's) stands for the model it wraps, so that a compiled or distributed run has
    the same class and fingerprint as a plain one; the wrappers are named beside them."""
    module, wrappers = _unwrapped(module)
    known = _models.get(module)
    if known is not None:
        return known
    facts = model_facts(module)
    facts["wrappers"] = " ".join(wrappers) or None
    ident = recorder.used_entity(recorder.numbered("model"), facts, time)
    _models[module] = ident
    return ident


# Wrapper classes of torch's (by name: their modules load lazily) and the attribute holding the wrapped model
_WRAPPED_IN = {"OptimizedModule": "_orig_mod", "DistributedDataParallel": "module", "DataParallel": "module"}


def _unwrapped(module: Any) -> tuple[Any, list[str]]:
    """The model inside torch's wrappers, and the wrappers' class names, outermost first."""
    import torch

    wrappers: list[str] = []
    while type(module).__module__.startswith("torch.") and type(module).__name__ in _WRAPPED_IN:
        inner = getattr(module, _WRAPPED_IN[type(module).__name__], None)
        if not isinstance(inner, torch.nn.Module):
            break
        wrappers.append(type(module).__name__)
        module = inner
    return module, wrappers


def model_facts(module: Any) -> dict[str, Any]:
    """Class, parameter counts and a structural fingerprint (module tree classes and parameter shapes)."""
    fingerprint = hashlib.sha256()
    for name, sub in module.named_modules():
        fingerprint.update(f"{name}:{type(sub).__qualname__}\n".encode())
    total = trainable = 0
    for name, param in module.named_parameters():
        fingerprint.update(f"{name}:{tuple(param.shape)}:{param.dtype}\n".encode())
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return {"prov:type": QName("prov4ml:Model"), "class": type(module).__qualname__,
            "module": type(module).__module__, "parameters": total, "trainableParameters": trainable,
            "fingerprint": fingerprint.hexdigest()}


@collector.takes_runs
def _on_steps(recorder: Recorder, steps: list[tuple]) -> None:
    """Consecutive step events (time, "step", optimizer id, loss or None, *learning rates), in one call: the
    collector's whole cost of a training step is this loop's body. Each loss is numbered with the step it fed
    (an unknown optimizer's: the next); the run's step is the furthest any optimizer has gone."""
    global _stepped, _furthest
    if not _stepped:
        _stepped = True
        recorder.environment(_torch_facts())
    own_loop = recorder.trainer is None
    recorder.training_seen(steps[-1][0])
    losses: dict[str, list[tuple]] = {}
    for event in steps:
        state = _by_id.get(event[2])
        if state is not None:
            state.steps += 1
            reached = state.offset + state.steps
            if reached > _furthest:
                _furthest = reached
            if own_loop and reached > recorder.global_step:
                recorder.global_step = reached
            state.at = _furthest
            if state.first_at is None:
                state.first_at = _furthest
            if event[4:] != state.last_lrs:
                _learning_rates_seen(recorder, state, event[0], event[4:])
            if state.unused_rows:
                _settle_rows(recorder, state)
            if state.phases_told != recorder.phase_changes:
                state.phases_told = recorder.phase_changes
                recorder.stepped(state.owner)
        if event[3] is not None:
            series = "loss" if state is None or _leads(recorder, state) else f"loss.{state.owner}"
            losses.setdefault(series, []).append((recorder.global_step + (state is None), event[0], event[3]))
    recorder.last_step_time = steps[-1][0]
    for series, rows in losses.items():
        torch_loss.record_losses(recorder, rows, series)


def _leads(recorder: Recorder, state: _OptimizerState) -> bool:
    """The first optimizer to step in an epoch carries the run's ``loss``; another stepping in the same epoch
    with a loss of its own (a GAN's second network, trained on a second backward) has ``loss.<optimizerN>``:
    one series would mix two objectives. An optimizer stepped after another on the same backward carries no
    loss, and a later stage's optimizer steps first in its own epochs."""
    if _leader[0] is not recorder.epoch:
        _leader[:] = [recorder.epoch, state]
    return _leader[1] is state


def _learning_rates_seen(recorder: Recorder, state: _OptimizerState, time: float, lrs: tuple) -> None:
    """The rates a step used differ from the previous step's (most steps change nothing). A tensor learning
    rate is the same object at every step, changed in place: its value when the collector comes to the event
    may be a later step's, so its changes come from the values read at the step (``_on_rates_used``) and at
    scheduler steps (``_on_scheduled``)."""
    state.last_lrs = lrs if all(isinstance(lr, float) for lr in lrs) else ()
    for number, lr in enumerate(lrs):
        if isinstance(lr, (int, float)):
            _setting_seen(recorder, state, number, "lr", lr, time, state.at)


def _setting_seen(recorder: Recorder, state: _OptimizerState, group: int, key: str, value: Any, time: float,
                  step: int) -> None:
    """A series row when a setting changes, at the first step (the run's) that uses the new value. The
    learning rate's series starts with the value at construction; another setting's with the value before its
    first change; both at the optimizer's first step, if that step used them (not when the script set the
    value by hand before it, as nanoGPT's warm-up does)."""
    value = _plain(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    while len(state.settings) <= group:
        state.settings.append({})
    previous = state.settings[group].get(key)
    state.settings[group][key] = value
    if previous is None or previous == value:
        return
    name = _series_name(state, group, key)
    if not recorder.has_setting(name) and state.first_at is not None and state.first_at < step:
        _record_setting(recorder, state, name, float(previous), time, state.first_at)  # steps before used it
    _record_setting(recorder, state, name, float(value), time, step)


def _record_setting(recorder: Recorder, state: _OptimizerState, name: str, value: float, time: float,
                    step: int) -> None:
    """Rows are numbered with the run's steps: the furthest any optimizer has gone (an optimizer that steps
    every other batch has its rows at the batches' steps), from where the run was when it appeared (a second
    stage's optimizer; a trainer's resumed from a checkpoint, see ``rebase``)."""
    if recorder.setting(name, value, time, step, state.at):
        state.unused_rows.add(name)


def _settle_rows(recorder: Recorder, state: _OptimizerState) -> None:
    """At a step of this optimizer: the rows it is the first to use are written, in its epoch, at this step
    (the next step of the run, where they were expected, unless the optimizer sat some out)."""
    for name in state.unused_rows:
        recorder.move_unused_row(name, state.at)
    state.unused_rows = {name for name in state.unused_rows if recorder.settle_setting(name, state.at)}


def _on_scheduled(recorder: Recorder, time: float, key: int, keys: tuple[str, ...], *values: Any) -> None:
    """A scheduler step's numeric settings (group by group, in the order of ``keys``): those that changed take
    effect from the next step."""
    state = _by_id.get(key)
    if state is None or not keys:
        return
    previous, state.scheduled = state.scheduled, values
    for index, value in enumerate(values):
        if index >= len(previous) or previous[index] != value:
            group, position = divmod(index, len(keys))
            _setting_seen(recorder, state, group, keys[position], value, time, state.at + 1)


def _on_rates_used(recorder: Recorder, time: float, key: int, *rates: Any) -> None:
    """The learning rates (tensors, read at the step) that the step whose event follows used."""
    state = _by_id.get(key)
    if state is not None:
        for number, rate in enumerate(rates):
            _setting_seen(recorder, state, number, "lr", rate, time, state.at + 1)


def _on_settings(recorder: Recorder, time: float, opt: Any, settings: list[dict], reason: str) -> None:
    """Settings changed outside a step (a state load, a group added): they take effect from the next step."""
    state = _seen.get(opt)
    if state is None:
        return
    settings = _device_values_read(settings)
    known = len(state.settings)
    for number, group in enumerate(settings):
        for key, value in group.items():
            _setting_seen(recorder, state, number, key, value, time, state.at + 1)
    if len(settings) > known:  # add_param_group (YOLOv5's weights with decay, a layer unfrozen later)
        recorder.doc.entity(state.ident, _groups_described(opt, settings, known))
        _start_lr_rows(recorder, state, settings, known, time, state.at + 1)
    if reason == "state_loaded":
        recorder.doc.entity(state.ident, {"stateLoaded": True, "stateLoadedAtStep": state.steps})


def _device_values_read(settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups' settings with the copies of device tensor settings (see ``_snapshot``) read as numbers."""
    return [{key: _plain(value) if _is_one_value_tensor(value) else value for key, value in group.items()}
            for group in settings]


def _state_of(opt: Any) -> _OptimizerState | None:
    """An optimizer's state, or that of the optimizer a wrapper holds (accelerate's, which a Hugging Face
    Trainer schedules and steps)."""
    for _ in range(4):
        state = _seen.get(opt)
        if state is not None:
            return state
        opt = getattr(opt, "optimizer", None)
        if opt is None:
            break
    return None


def rebase(recorder: Recorder, opt: Any, step: int) -> None:
    """A trainer resumed at ``step`` (its global step, restored from a checkpoint after the optimizer was
    built and its state loaded): the optimizer's steps count on from there, and its settings' rows with
    them, the values in effect now included."""
    global _furthest
    state = _state_of(opt)
    if state is None or state.offset == step - state.steps:
        return
    state.offset, state.at, _furthest = step - state.steps, step, step
    for name in state.unused_rows:
        recorder.move_unused_row(name, step + 1)


def _on_scheduler(recorder: Recorder, time: float, scheduler: Any, cls: str, opt: Any, settings: dict) -> None:
    state = _state_of(opt)
    _schedulers[scheduler] = recorder.used_entity(recorder.numbered("scheduler"), {
        "prov:type": QName("prov4ml:LRScheduler"), "class": cls,
        "optimizer": QName(state.ident) if state else None,
        **{key: _plain(value) for key, value in settings.items()},
    }, time)


def _plain(value: Any) -> Any:
    """One-value tensors (tensor learning rates, a scheduler's ``base_lrs`` of them) become floats; sequences a
    compact text, naming the schedulers in one (SequentialLR's) by their entities."""
    if _is_one_value_tensor(value):
        return _scalars.number(value)
    if isinstance(value, (tuple, list)):
        return ", ".join(_schedulers.get(item) or bounded_repr(_plain(item) if _is_one_value_tensor(item) else item)
                         for item in value)
    return value


def _series_name(state: _OptimizerState, group: int, key: str) -> str:
    return f"{state.owner}.group{group}.{key}"


def _report_steps(recorder: Recorder, now: float, final: bool) -> None:
    """Step counts on the optimizer entities, at most once a second (the journal keeps them for recovery)."""
    global _last_report
    if not final and now - _last_report < _REPORT_EVERY:
        return
    _last_report = now
    for state in _states:
        if state.steps != state.reported_steps:
            state.reported_steps = state.steps
            recorder.doc.entity(state.ident, {"steps": state.steps})


_last_report = 0.0
_stepped = False  # a training step has been handled
_leader: list[Any] = [object(), None]  # the epoch (None: no epochs), the optimizer that stepped first in it
_furthest = 0  # the run's step: the furthest any optimizer has gone

HANDLERS = {
    "framework": _on_framework,
    "optimizer": _on_optimizer,
    "optimizer_settings": _on_settings,
    "scheduled": _on_scheduled,
    "rates_used": _on_rates_used,
    "scheduler": _on_scheduler,
    "step": _on_steps,
}
