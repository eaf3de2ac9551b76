"""Training: one loop for every cell type and encoding, with validation, checkpoints, resume.

A run folder holds ``checkpoint-last.pt`` and ``checkpoint-best.pt`` (model, optimizer,
scheduler, RNG and carried state: resuming from the last one reproduces an uninterrupted run
bit for bit on CPU), ``metrics.csv``, and ``model.npz`` (the best weights as a model file).
A run holds the folder's lock (one run per folder). Validation rows written when a run
stops between scheduled validations are kept in the checkpoint apart from the training
state, so ``metrics.csv`` keeps them across ``--resume``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from drumrnn.core.atomic import write_text_atomic
from drumrnn.core.errors import DrumrnnError
from drumrnn.core.lock import folder_lock
from drumrnn.data.dataset import load_dataset
from drumrnn.model.labels import label_vocab_of
from drumrnn.model.model_config import ModelConfig
from drumrnn.model.model_file import content_header, load_model_file, save_model_file
from drumrnn.model.profile import learn_profile, split_profile
from drumrnn.model.tracks import TrackArrays, model_tracks, vocabulary_of
from drumrnn.training import distributed as ddp
from drumrnn.training.batches import epoch_plan, gather
from drumrnn.training.checkpoint import FORMAT as CHECKPOINT_FORMAT
from drumrnn.training.checkpoint import FORMAT_VERSION as CHECKPOINT_VERSION
from drumrnn.training.checkpoint import check_model_state, load_checkpoint, save_checkpoint
from drumrnn.training.metrics import MetricSums, token_loss
from drumrnn.training.model import Batch, DrumLM, detach_state, feel_loss
from drumrnn.training.train_config import TrainConfig

CHECKPOINT_LAST = "checkpoint-last.pt"
CHECKPOINT_BEST = "checkpoint-best.pt"
METRICS_CSV = "metrics.csv"
TENSORBOARD = "tensorboard"
MODEL_FILE = "model.npz"
SNAPSHOTS = "snapshots"  # model files of every validation (TrainConfig.snapshots)
#: What a run folder holds; ``overwrite`` removes exactly these.
RUN_FILES = (CHECKPOINT_LAST, CHECKPOINT_BEST, MODEL_FILE, METRICS_CSV, TENSORBOARD, SNAPSHOTS)
DEFAULT_EPOCHS = 20


def default_threads() -> int:
    """The cores not busy with other work: extra torch threads on a busy core collapse."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = int(round(os.getloadavg()[0])) if hasattr(os, "getloadavg") else 0
    return max(1, (cores or 1) - busy)


def to_batch(arrays: dict[str, np.ndarray], device) -> Batch:
    """Tensors of one batch on ``device``; for a GPU through pinned memory, copied without
    waiting."""
    device = torch.device("cpu") if device is None else torch.device(device)
    tensors = {}
    for k, v in arrays.items():
        tensor = torch.from_numpy(np.ascontiguousarray(v))
        if device.type == "cuda":
            tensor = tensor.pin_memory().to(device, non_blocking=True)
        tensors[k] = tensor
    return Batch(**tensors)


@torch.no_grad()
def evaluate(model: DrumLM, tracks: TrackArrays, batch_size: int = 64, window: int = 256,
             device=None) -> dict[str, float]:
    """Metrics of ``model`` over every target of ``tracks``, each track read whole from a zero
    state (as ``drumrnn evaluate`` reads it)."""
    was_training = model.training
    model.eval()
    vocab = model.vocab
    sums = MetricSums(vocab.encoding, bar_token=vocab.bar_token)
    plan = epoch_plan(tracks, batch_size, window, "stateful", seed=0, epoch=0, whole_tracks=True)
    carried = model.initial_state(batch_size, device)
    for rows, length, independent in zip(plan.rows, plan.lengths, plan.independent):
        batch = to_batch(gather(tracks, rows, int(length)), device)
        if independent:
            logits, delta_logits, _ = model(batch, model.initial_state(batch_size, device))
        else:
            logits, delta_logits, carried = model(batch, carried)
        sums.update(logits, delta_logits, batch)
    model.train(was_training)
    return sums.result()


@dataclass
class TrainResult:
    """How a training run ended."""

    run_dir: Path
    model_path: Path | None
    steps: int
    stopped_by: str
    best: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)


class _StopFlag:
    """Turns SIGTERM and a first Ctrl+C into a request to stop at the next step boundary."""

    def __init__(self):
        self.reason: str | None = None

    def __enter__(self):
        self._old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: no signal handling
            self._old = {}
        return self

    def _handle(self, signum, frame):
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = "interrupted" if signum == signal.SIGINT else "terminated"

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _optimizer(model: DrumLM, cfg: TrainConfig):
    params = model.parameters()
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def existing_run_files(run_dir: str | Path) -> list[Path]:
    """The files of a training run in ``run_dir`` (none for a new or unrelated folder)."""
    return [Path(run_dir) / name for name in RUN_FILES if (Path(run_dir) / name).exists()]


class Trainer:
    """One training run: build with the configs, then :meth:`run`.

    A new run refuses a ``run_dir`` that holds a run (continue it with :meth:`resume`)
    unless ``overwrite``, which removes that run's files first. ``on_validation``, if set,
    is called with each validation's metrics row.
    """

    def __init__(self, data_dir: str | Path, run_dir: str | Path, model_cfg: ModelConfig,
                 train_cfg: TrainConfig, preset: str | None = None, progress: bool = False,
                 log=print, overwrite: bool = False, _resuming: bool = False):
        self.run_dir = Path(run_dir)
        earlier = [] if _resuming else existing_run_files(self.run_dir)
        if earlier and not overwrite:
            raise DrumrnnError(f"{self.run_dir} already holds a training run; continue it with "
                               f"--resume {self.run_dir}, or pass --overwrite to replace it")
        self.dataset = load_dataset(data_dir)
        self.on_validation = None
        self.model_cfg, self.cfg, self.preset = model_cfg, train_cfg, preset
        self.progress, self.log = progress, log
        self.vocab = vocabulary_of(self.dataset)
        if self.vocab.encoding == "events" and (model_cfg.counter_bits or model_cfg.lookback
                                                 or model_cfg.position_embedding):
            raise DrumrnnError("counters, lookback and position embedding need the steps encoding")
        if self.vocab.encoding == "events" and (model_cfg.labels or model_cfg.bar_ago):
            raise DrumrnnError("labels and bar-ago inputs need the steps encoding")
        if train_cfg.piece_starts and train_cfg.mode == "random" and (
                self.vocab.encoding != "steps" or self.vocab.bar_token >= 0):
            # a piece start is a lead step before a bar's first step, as generation lays out
            # a steps piece without BAR tokens
            raise DrumrnnError("piece starts need the steps encoding without BAR tokens "
                               "(or --piece-starts 0)")
        if train_cfg.style_balance and not model_cfg.labels:
            raise DrumrnnError("style balance draws tracks by their style label: it needs a "
                               "model that reads labels (or --style-balance 0)")
        self.labels = label_vocab_of(self.dataset.manifest) if model_cfg.labels else None
        if self.labels is not None:
            self.vocab = dataclasses.replace(self.vocab, label_sizes=self.labels.sizes)
        self.train_tracks = model_tracks(self.dataset, "train", self.vocab, model_cfg,
                                         self.labels)
        self.valid_tracks = model_tracks(self.dataset, "validation", self.vocab, model_cfg,
                                         self.labels)
        if self.train_tracks.n_targets == 0:
            raise DrumrnnError("the training split has no track longer than one token")
        self.world = ddp.world_from_env()
        self.local_batch = ddp.local_batch(train_cfg.batch, self.world)
        torch.set_num_threads(train_cfg.threads
                              or ddp.threads_per_rank(default_threads(), self.world))
        self.device = ddp.select_device(train_cfg.device, self.world)
        self.amp_dtype = ddp.select_precision(train_cfg.precision, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        ddp.start(self.world, self.device)
        torch.manual_seed(train_cfg.seed)
        self.model = DrumLM(model_cfg, self.vocab).to(self.device)
        self.net = ddp.wrap(self.model, self.world)
        # fp16 gradients underflow without scaling; bf16 has float32's range
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.optimizer = _optimizer(self.model, train_cfg)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=train_cfg.plateau_factor, patience=train_cfg.plateau_patience)
        self.step = self.epoch = self.batch_in_epoch = 0
        self.elapsed = 0.0
        self.tokens = 0
        self.best: dict = {}
        self.evals_since_best = 0
        self.history: list[dict] = []
        self.stop_rows: list[dict] = []  # validations at stops: kept, not training state
        self._plan_len = 0
        self.state = self.model.initial_state(self.local_batch, self.device)
        self.profile = learn_profile(self.dataset) if self.world.main else {}
        self.manifest_sha256 = hashlib.sha256(
            (self.dataset.path / "manifest.json").read_bytes()).hexdigest()
        if self.world.main:  # the one process that writes
            for path in earlier:  # only once everything else is known to work
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self._reseed_rank()

    def _reseed_rank(self) -> None:
        """Ranks other than 0 draw their own dropout masks (rank 0 keeps the seed's stream,
        or the checkpoint's, as one process does)."""
        if self.world.rank:
            torch.manual_seed(self.cfg.seed + 104729 * self.world.rank + self.step)

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, carried: dict) -> dict:
        return {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
                "model_config": json.dumps(self.model_cfg.to_dict()),
                "train_config": json.dumps(self.cfg.to_dict()),
                "preset": self.preset or "", "data_dir": str(self.dataset.path),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": json.dumps(self.scheduler.state_dict()),
                "rng": torch.get_rng_state(), "carried": carried,
                "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "elapsed": self.elapsed, "tokens": self.tokens,
                "best": json.dumps(self.best), "evals_since_best": self.evals_since_best,
                "history": json.dumps(self.history), "stop_rows": json.dumps(self.stop_rows)}

    @classmethod
    def resume(cls, run_dir: str | Path, progress: bool = False, log=print,
               data_dir: str | Path | None = None, more_minutes: float | None = None,
               **budget) -> Trainer:
        """Continue the run in ``run_dir`` from its last checkpoint; ``budget`` may change
        the total ``epochs``, ``minutes`` or ``max_steps``; ``more_minutes`` gives the run
        that many minutes more than it has trained."""
        path = Path(run_dir) / CHECKPOINT_LAST
        ckpt = load_checkpoint(path)
        model_cfg = ModelConfig.from_dict(json.loads(ckpt["model_config"]))
        budget = {k: v for k, v in budget.items() if v is not None}
        if more_minutes is not None:
            budget["minutes"] = ckpt["elapsed"] / 60 + more_minutes
        cfg = TrainConfig.from_dict({**json.loads(ckpt["train_config"]), **budget})
        trainer = cls(data_dir or ckpt["data_dir"], run_dir, model_cfg, cfg,
                      ckpt["preset"] or None, progress, log, _resuming=True)
        check_model_state(ckpt, trainer.vocab, path)
        try:
            trainer.model.load_state_dict(ckpt["model"])
            trainer.optimizer.load_state_dict(ckpt["optimizer"])
            trainer.scheduler.load_state_dict(json.loads(ckpt["scheduler"]))
            torch.set_rng_state(ckpt["rng"])
            # the checkpoint holds the whole batch's state: any number of ranks can take it up
            trainer.state = {k: v.to(trainer.device) for k, v in
                             ddp.slice_state(ckpt["carried"], trainer.world).items()}
        except Exception as exc:  # torch raises RuntimeError/ValueError/KeyError on mismatch
            text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise DrumrnnError(f"{path}: checkpoint does not fit its model ({text})") from None
        for name in ("step", "epoch", "batch_in_epoch", "elapsed", "tokens", "evals_since_best"):
            setattr(trainer, name, ckpt[name])
        trainer._reseed_rank()
        trainer.best = json.loads(ckpt["best"])
        trainer.history = json.loads(ckpt["history"])
        trainer.stop_rows = json.loads(ckpt.get("stop_rows", "[]"))
        return trainer

    def _save_model_file(self, metrics: dict, path: Path | None = None) -> Path:
        manifest = self.dataset.manifest
        header = {"model": self.model_cfg.to_dict(), "vocabulary": self.vocab.to_dict(),
                  "encoding": manifest["config"]["encoding"], "kit": manifest["config"]["kit"],
                  "preset": self.preset,
                  "dataset": {"path": str(self.dataset.path),
                              "manifest_sha256": self.manifest_sha256,
                              "train_tokens": manifest["splits"]["train"]["tokens"]},
                  "training": self.cfg.to_dict(), "metrics": metrics}
        if self.labels is not None:
            header["labels"] = self.labels.to_dict()
        weights = {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        return save_model_file(path or self.run_dir / MODEL_FILE, header,
                               {**weights, **self.profile})

    def _rows(self) -> list[dict]:
        """Every validation row, scheduled or at a stop, in step order."""
        return sorted(self.history + self.stop_rows, key=lambda row: row["step"])

    def _write_metrics(self) -> None:
        rows = self._rows()
        if not rows:
            return
        names = list(dict.fromkeys(k for row in rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.run_dir / METRICS_CSV, buffer.getvalue())

    # -- loop ------------------------------------------------------------------------------
    def _budget_reached(self) -> str | None:
        cfg = self.cfg
        epochs = cfg.epochs or (0 if cfg.minutes or cfg.max_steps else DEFAULT_EPOCHS)
        if epochs and self.epoch >= epochs:
            return "epochs"
        if cfg.max_steps and self.step >= cfg.max_steps:
            return "steps"
        if cfg.minutes and self.elapsed >= cfg.minutes * 60:
            return "minutes"
        if cfg.patience and self.evals_since_best >= cfg.patience:
            return "early stopping"
        return None

    def budget_text(self) -> str:
        """What :meth:`run` will do, in one line: its limits, and where it starts."""
        cfg = self.cfg
        epochs = cfg.epochs or (0 if cfg.minutes or cfg.max_steps else DEFAULT_EPOCHS)
        limits = [f"{epochs:g} epochs" if epochs else "",
                  f"{cfg.max_steps} steps" if cfg.max_steps else "",
                  "" if not cfg.minutes else
                  f"{cfg.minutes:.3g} minutes of training" if not self.step else
                  f"{max(cfg.minutes - self.elapsed / 60, 0):.3g} more minutes of training "
                  f"({cfg.minutes:.3g} in all)"]
        text = "until " + " or ".join(filter(None, limits))
        if cfg.patience:
            text += (f", or early stopping after {cfg.patience} validations without "
                     "improvement")
        if self.step:
            text = (f"resuming at step {self.step} (epoch {self.epoch}, "
                    f"{self.elapsed / 60:.1f} minutes trained): {text}")
            done = self._budget_reached()
            if done:
                text += f"; nothing to do: the {done} budget is already reached" \
                    if done != "early stopping" else "; nothing to do: it stopped early"
        return text

    def _validate(self, train_loss: float, final: bool = False) -> dict:
        """Validate, log, keep the best model; a ``final`` validation (a run stopping between
        scheduled ones) changes no training state, so that resuming stays exact."""
        carried = ddp.gather_state(self.state, self.world)
        metrics = (evaluate(self.model, self.valid_tracks, device=self.device)
                   if self.world.main else None)
        metrics = ddp.broadcast(metrics, self.world)
        row = {"step": self.step, "epoch": round(self.epoch + self.batch_in_epoch
                                                 / max(self._plan_len, 1), 3),
               "elapsed_s": round(self.elapsed, 1), "tokens": self.tokens,
               "tokens_per_s": round(self.tokens / max(self.elapsed, 1e-9)),
               "lr": self.optimizer.param_groups[0]["lr"], "train_loss": round(train_loss, 5),
               **{f"val_{k}": round(v, 5) for k, v in metrics.items()}}
        main = self.world.main  # only rank 0 writes
        if final:
            self.stop_rows.append(row)
            if main:
                save_checkpoint(self.run_dir / CHECKPOINT_LAST, self._checkpoint(carried))
        else:
            self.history.append(row)
        improved = not self.best or metrics["loss"] < self.best["val_loss"]
        if improved:
            self.best = {"step": self.step, **{f"val_{k}": v for k, v in metrics.items()}}
            if main:
                self._save_model_file(self.best)
        if not final:
            self.scheduler.step(metrics["loss"])
            self.evals_since_best = 0 if improved else self.evals_since_best + 1
            if improved and main:
                save_checkpoint(self.run_dir / CHECKPOINT_BEST, self._checkpoint(carried))
            if main:
                save_checkpoint(self.run_dir / CHECKPOINT_LAST, self._checkpoint(carried))
            if main and self.cfg.snapshots:
                (self.run_dir / SNAPSHOTS).mkdir(exist_ok=True)
                self._save_model_file({"step": self.step, **{f"val_{k}": v for k, v in
                                                             metrics.items()}},
                                      self.run_dir / SNAPSHOTS / f"model-{self.step:06d}.npz")
        if main:
            self._write_metrics()
            if self.on_validation is not None:
                self.on_validation(row)
        if self._writer is not None:
            for key, value in row.items():
                if key not in ("step", "epoch"):
                    self._writer.add_scalar(key, value, self.step)
        return row

    def run(self) -> TrainResult:
        """Train until the budget, early stopping or a stop signal; returns how it ended.

        Holds the run folder's lock (rank 0, the one that writes): a second run into the
        same folder is refused. A resumed run whose budget is already reached changes no
        file."""
        done = self._budget_reached()
        if done and self.step:
            model = self.run_dir / MODEL_FILE
            test = {}
            if self.best and model.is_file():
                test = {k: v for k, v in load_model_file(model).header.get("metrics", {}).items()
                        if k.startswith("test_")}
            return TrainResult(self.run_dir, model if self.best else None, self.step, done,
                               self.best, test)
        if not self.world.main:
            return self._run_locked()
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DrumrnnError(f"cannot create {self.run_dir}: {exc.strerror or exc}") from None
        with folder_lock(self.run_dir):
            return self._run_locked()

    def _run_locked(self) -> TrainResult:
        self._writer = _tensorboard(self.run_dir) if self.world.main else None
        cfg, model, net, world = self.cfg, self.model, self.net, self.world
        model.train()
        from tqdm import tqdm

        bar = tqdm(desc="training", unit="step", disable=not (self.progress and world.main),
                   initial=self.step,
                   dynamic_ncols=True)
        loss_sum = loss_count = 0.0
        stopped_by = self._budget_reached()
        rows = self._rows()
        last_eval_step = rows[-1]["step"] if rows else -1
        val_ppl = f"{rows[-1]['val_perplexity']:.2f}" if rows else "-"
        try:
            with _StopFlag() as stop:
                while stopped_by is None:
                    plan = epoch_plan(self.train_tracks, cfg.batch, cfg.window, cfg.mode,
                                      cfg.seed, self.epoch, piece_starts=cfg.piece_starts,
                                      style_balance=cfg.style_balance)
                    self._plan_len = len(plan)
                    while self.batch_in_epoch < len(plan) and stopped_by is None:
                        started = time.perf_counter()
                        b = self.batch_in_epoch
                        rows, length = plan.rows[b], int(plan.lengths[b])
                        rng = np.random.default_rng([cfg.seed, self.epoch, b])
                        if world.distributed:
                            arrays = gather(self.train_tracks, ddp.rank_rows(rows, world),
                                            length)
                            # labels left out as one process leaves them out of these rows
                            ddp.drop_labels(arrays, len(rows), cfg.label_dropout, rng, world)
                        else:
                            arrays = gather(self.train_tracks, rows, length, cfg.label_dropout,
                                            rng)
                        batch = to_batch(arrays, self.device)
                        independent = bool(plan.independent[b])
                        state_in = (model.initial_state(self.local_batch, self.device)
                                    if independent else self.state)
                        with torch.autocast(self.device.type, dtype=self.amp_dtype,
                                            enabled=self.amp_dtype is not None):
                            logits, delta_logits, state = net(batch, state_in)
                            loss = token_loss(logits, delta_logits, batch)
                            feel = (cfg.feel_weight * feel_loss(model, batch)
                                    if self.model_cfg.feel else None)
                        local_targets = int(arrays["mask"].sum())
                        targets = local_targets
                        if world.distributed:
                            targets = ddp.batch_targets(self.train_tracks, rows, length)
                            loss = loss * ddp.loss_scale(local_targets, targets, world)
                            if feel is not None:
                                struck = int((arrays["velocity_targets"] >= 0).sum())
                                everywhere = ddp.all_sum([struck], world)[0]
                                feel = feel * ddp.loss_scale(struck, everywhere, world)
                        if feel is not None:
                            loss = loss + feel
                        self.optimizer.zero_grad(set_to_none=True)
                        self.scaler.scale(loss).backward()
                        self.scaler.unscale_(self.optimizer)
                        if cfg.clip and cfg.clip_mode == "norm":
                            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                        elif cfg.clip:
                            torch.nn.utils.clip_grad_value_(model.parameters(), cfg.clip)
                        self.scaler.step(self.optimizer)
                        self.scaler.update()
                        if not independent:
                            self.state = detach_state(state)
                        self.step += 1
                        self.batch_in_epoch += 1
                        self.tokens += targets
                        spent = time.perf_counter() - started
                        loss_value = loss.item()
                        if world.distributed:
                            # one exchange per step keeps the ranks agreeing on the loss, the
                            # clock and a stop request that reached only some of them
                            signals = (stop.reason == "interrupted", stop.reason == "terminated")
                            total = ddp.all_sum([loss_value, spent, *signals], world)
                            loss_value, spent = total[0] / world.size, total[1] / world.size
                            if total[3]:
                                stop.reason = "terminated"
                            elif total[2]:
                                stop.reason = "interrupted"
                        loss_sum += loss_value
                        loss_count += 1
                        self.elapsed += spent
                        if self.step % cfg.eval_every == 0:
                            row = self._validate(loss_sum / loss_count)
                            last_eval_step = self.step
                            loss_sum = loss_count = 0.0
                            val_ppl = f"{row['val_perplexity']:.2f}"
                        if self.progress and (self.step % 10 == 0 or loss_count == 0):
                            bar.set_postfix(loss=f"{loss_value:.3f}", val_ppl=val_ppl,
                                            tok_s=round(self.tokens / max(self.elapsed, 1e-9)),
                                            left=self._time_left(), refresh=False)
                        bar.update()
                        stopped_by = stop.reason or self._budget_reached()
                    if self.batch_in_epoch >= len(plan):
                        self.epoch += 1
                        self.batch_in_epoch = 0
                        stopped_by = stopped_by or self._budget_reached()
                if self.step != last_eval_step:
                    self._validate(loss_sum / max(loss_count, 1), final=True)
        finally:
            bar.close()
            if self._writer is not None:
                self._writer.close()
        test = self._test_metrics() if self.world.main else {}
        ddp.finish(self.world)
        return TrainResult(self.run_dir, self.run_dir / MODEL_FILE if self.best else None,
                           self.step, stopped_by, self.best, test)

    def _time_left(self) -> str:
        if not self.cfg.minutes:
            return "-"
        return f"{max(self.cfg.minutes * 60 - self.elapsed, 0) / 60:.1f}m"

    def _test_metrics(self) -> dict:
        """Test-split metrics of the best weights, also stored in the model file."""
        split = self.dataset.split("test")
        if split.n_tracks == 0 or not self.best:
            return {}
        best = load_model_file(self.run_dir / MODEL_FILE)
        model = torch_model(best).to(self.device)
        tracks = model_tracks(self.dataset, "test", self.vocab, self.model_cfg, self.labels)
        metrics = evaluate(model, tracks, device=self.device)
        test = {f"test_{k}": v for k, v in metrics.items()}
        header = {**content_header(best.header), "metrics": {**best.header["metrics"], **test}}
        save_model_file(self.run_dir / MODEL_FILE, header, best.weights)
        return test


def torch_model(model_file) -> DrumLM:
    """The PyTorch module of a loaded model file, in evaluation mode."""
    network, _ = split_profile(model_file.weights)
    model = DrumLM(model_file.config, model_file.vocabulary)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in network.items()})
    return model.eval()


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    with contextlib.suppress(OSError):  # logs are a convenience; the run's files are not
        return SummaryWriter(str(run_dir / TENSORBOARD))
    return None
