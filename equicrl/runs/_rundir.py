"""A run directory on disk: `config.json` (what ran, and how), `metrics.jsonl` (one
record per epoch) and the checkpoints, written so that a kill at any moment leaves a
loadable checkpoint and the metrics of every epoch it holds; and the checks on it that
need nothing built, run before training starts."""

import dataclasses
import datetime
import json
import os
import re
import shutil
import sys
from pathlib import Path

import equinox as eqx

from .._checkpoint import read_header, save_checkpoint
from ..training._config import CRLConfig


CHECKPOINT = "checkpoint.eqx"
# With `keep_checkpoints > 1`, the checkpoints before the newest, by epoch.
_OLDER = re.compile(r"checkpoint-epoch(\d+)\.eqx")
# Written at the end of a run; removed with the rest by `overwrite`.
OUTPUTS = ("learning_curve.png", "trajectories.png", "rollout.html")
# Config fields a resumed run may change: a longer (or shorter) run, same otherwise.
EXTENSIBLE = ("total_env_steps",)
# The training options `config.json` records, and their defaults for a new run; a
# resumed run takes the run's own for each one not given.
OPTIONS = {
    "eval_every": 1,
    "checkpoint_every": None,
    "keep_checkpoints": 1,
    "checkpoint_buffer": True,
    "env_overrides": {},
}


def versions() -> dict[str, str]:
    import importlib.metadata

    out = {"python": sys.version.split()[0]}
    for name in ("equicrl", "jax", "jaxlib", "equinox", "optax", "brax", "mujoco"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def config_dict(config: CRLConfig) -> dict:
    """`config` as the JSON it is saved as (so that saved and new compare equal)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(saved: dict) -> CRLConfig:
    """The config saved in a run directory, with an error naming any field this
    version of equicrl does not know."""
    known = {f.name for f in dataclasses.fields(CRLConfig)}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ValueError(
            f"the saved config has fields this equicrl does not know: "
            f"{', '.join(unknown)} (made by another version?)"
        )
    return CRLConfig(**_upgraded(saved))


def _upgraded(saved: dict) -> dict:
    """A saved config with the fields added since it was saved, at the values that
    run used: a run made before the prefill was a choice prefilled uniformly. JSON's
    lists are the config's tuples again."""
    out = {"prefill": "uniform", "lr_schedule": "constant", **saved}
    if isinstance(out.get("learner_depths"), list):
        out["learner_depths"] = tuple(out["learner_depths"])
    return out


def differences(saved: dict, config: CRLConfig) -> list[str]:
    """`field: saved -> new` for each field where `config` differs from `saved`."""
    new, saved = config_dict(config), json.loads(json.dumps(_upgraded(saved)))
    return [
        f"{k}: {saved.get(k)!r} -> {new[k]!r}"
        for k in new
        if k not in saved or saved[k] != new[k]
    ]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_metrics(path: Path, *, up_to: int | None = None) -> list[dict]:
    """The records of `path/metrics.jsonl` up to epoch `up_to`. A last line cut short
    by a kill is dropped."""
    file = path / "metrics.jsonl"
    if not file.exists():
        return []
    records = []
    for line in file.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # the write was interrupted
        record = json.loads(line)
        if up_to is None or record["epoch"] <= up_to:
            records.append(record)
    return records


def read_meta(path: Path) -> dict:
    """The run's `config.json` (empty if there is none)."""
    file = path / "config.json"
    return json.loads(file.read_text()) if file.exists() else {}


def latest_options(meta: dict) -> dict:
    """The training options of the latest command that trained the run whose
    `config.json` is `meta`: its start or its last resume."""
    return [meta, *meta.get("resumes", [])][-1].get("options", {})


def run_options(path: str | Path | None, *, resume: bool, **given) -> dict:
    """The training options of a run (the names of `OPTIONS`): each one of `given`
    that is not `None`; the others the run's own on `resume` (as its `config.json`
    records them), else their defaults. A resumed run keeps its env: `env_overrides`
    other than the run's are refused."""
    saved = latest_options(read_meta(Path(path))) if resume else {}
    options = {
        name: given[name] if given[name] is not None else saved.get(name, default)
        for name, default in OPTIONS.items()
    }
    # As JSON, so that a tuple and the list it was saved as compare equal.
    overrides = json.loads(json.dumps(options["env_overrides"] or {}))
    if resume and given["env_overrides"] is not None:
        own = saved.get("env_overrides") or {}
        if overrides != own:
            raise ValueError(
                f"the run in {path} was trained with env_overrides={own!r}, not "
                f"{overrides!r}; a resumed run keeps its env (leave out "
                "`env_overrides` to use the run's)"
            )
    return {**options, "env_overrides": overrides}


def older_checkpoints(path: Path) -> list[tuple[int, Path]]:
    """`(epoch, file)` of the kept checkpoints before the newest, oldest first."""
    if not path.is_dir():
        return []
    found = [(_OLDER.fullmatch(p.name), p) for p in path.iterdir()]
    return sorted((int(m.group(1)), p) for m, p in found if m)


def run_files(path: Path) -> list[Path]:
    """The files of a run in `path` (none if it is empty or not a run)."""
    if not path.is_dir():
        return []
    names = ("config.json", "metrics.jsonl", CHECKPOINT)
    files = [path / n for n in names if (path / n).exists()]
    return files + [p for _, p in older_checkpoints(path)]


def describe_run(path: Path) -> str:
    """A few words on the run in `path`, for error messages."""
    parts = []
    if (path / CHECKPOINT).exists():
        try:
            header = read_header(path / CHECKPOINT)
            parts.append(f"a checkpoint at epoch {header['epoch']}")
        except (ValueError, OSError, KeyError):
            parts.append("an unreadable checkpoint")
    metrics = read_metrics(path)
    if metrics:
        parts.append(f"metrics of {len(metrics)} epochs")
    if (path / "config.json").exists():
        parts.append("config.json")
    return ", ".join(parts)


def check_writable(path: Path) -> None:
    """Raise a `PermissionError` unless files can be created in `path` (made here if
    missing). By trying, since `os.access` says yes to root on a read-only mount."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".equicrl-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise PermissionError(
            f"cannot write the run directory {path}: {e.strerror or e}"
        ) from None


def check_run_dir(
    path: str | Path, config: CRLConfig, *, resume: bool, overwrite: bool
) -> dict | None:
    """Everything about the run directory that needs nothing built: refuse to replace
    a run unless `overwrite`; on `resume`, read the checkpoint's header and compare its
    config with `config` (only `EXTENSIBLE` fields may differ), and refuse to start
    over a run with no checkpoint whose records would be lost; check that the
    directory can be written.

    **Returns:**

    The header of the checkpoint to resume from, or `None` (a new run, or a resumed run
    stopped before its first checkpoint, which starts over).
    """
    path = Path(path)
    if resume and overwrite:
        raise ValueError("`resume` and `overwrite` exclude each other")
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"the run directory {path} is a file")
    if not resume:
        if run_files(path) and not overwrite:
            if not (path / CHECKPOINT).exists() and not read_metrics(path):
                raise FileExistsError(
                    f"{path} holds a run that stopped before its first checkpoint "
                    f"and record ({describe_run(path)}); --resume / resume=True "
                    "starts it again from the beginning, --overwrite / "
                    "overwrite=True replaces it, or choose another run directory"
                )
            raise FileExistsError(
                f"{path} already holds a run ({describe_run(path)}); resume it "
                "(--resume / resume=True), replace it (--overwrite / "
                "overwrite=True) or choose another run directory"
            )
        check_writable(path)
        return None
    if not run_files(path):
        raise FileNotFoundError(f"nothing to resume: no run in {path}")
    header = None
    meta = read_meta(path)
    if (path / CHECKPOINT).exists():
        header = read_header(path / CHECKPOINT)
        saved = header.get("config", {})
    elif "config" in meta:
        saved = meta["config"]
    else:
        raise FileNotFoundError(
            f"nothing to resume in {path}: no checkpoint and no config.json"
        )
    changed = differences(saved, config)
    fixed = [d for d in changed if d.split(":")[0] not in EXTENSIBLE]
    if fixed:
        raise ValueError(
            f"the run in {path} was made with another config; a resumed run may only "
            f"change {', '.join(EXTENSIBLE)}, and these differ: {'; '.join(fixed)}"
        )
    if config.lr_schedule != "constant" and any(
        d.startswith("total_env_steps") for d in changed
    ):
        raise ValueError(
            f"the run in {path} cannot be extended: its learning rates follow "
            f"`lr_schedule` {config.lr_schedule!r} to 0 at the end of the "
            f"{saved['total_env_steps']:,} env steps it was planned for; train a new "
            "run with the longer `total_env_steps` instead"
        )
    if header is None:
        _check_start_over(path, meta, config_from_dict(saved))
    else:
        done = header["epoch"] * config.env_steps_per_collection
        if config.total_env_steps < done + prefill_steps(config):
            raise ValueError(
                f"`total_env_steps` ({config.total_env_steps:,}) is less than the "
                f"{done + prefill_steps(config):,} env steps the checkpoint in {path} "
                "already holds"
            )
    check_writable(path)
    return header


def _check_start_over(path: Path, meta: dict, saved: CRLConfig) -> None:
    """A resumed run with no checkpoint starts over. Refuse unless that loses nothing:
    the run was stopped before it finished any epoch, or before its first checkpoint
    (then its records are of epochs it trains again, bit for bit)."""
    records = read_metrics(path)
    if not records:
        return
    every = latest_options(meta).get("checkpoint_every")
    epochs = num_epochs(saved)
    if every is None or records[-1]["epoch"] >= epochs:
        why = " (trained without `checkpoint_every`)" if every is None else ""
        raise ValueError(
            f"nothing to resume in {path}: it holds the metrics of "
            f"{records[-1]['epoch']} of its {epochs} epochs but no checkpoint{why}; "
            "to keep them, train in another run directory, else start over with "
            "overwrite=True (--overwrite)"
        )


def prefill_steps(config: CRLConfig) -> int:
    return config.prefill_collections * config.env_steps_per_collection


def steps_at_epoch(config: CRLConfig, epoch: int) -> int:
    """Env steps at the end of `epoch` (the prefill included)."""
    return prefill_steps(config) + epoch * config.env_steps_per_collection


def num_epochs(config: CRLConfig) -> int:
    """Epochs of a run: the env steps after the prefill in whole collections (at
    least one)."""
    return config.num_epochs


class RunDir:
    """The files of one run. Only the main process (process 0 of a multi-host run)
    writes; every process reads the checkpoint on resume.

    - `config.json`: the config, how the run was started (`record`: the training
      options, and what the command line adds), the package versions, and one entry
      per resume.
    - `metrics.jsonl`: one record per epoch, flushed as written. On resume it is
      left as it is until the first new record, then rewritten (atomically) with the
      epochs the checkpoint holds and that record: a resumed run stopped before its
      first epoch loses no record.
    - `checkpoint.eqx`: the newest checkpoint, replaced atomically; with
      `keep_checkpoints > 1`, older ones as `checkpoint-epochN.eqx`.
    """

    def __init__(
        self,
        path: str | Path,
        config: CRLConfig,
        *,
        main_process: bool,
        keep_checkpoints: int = 1,
        checkpoint_buffer: bool = True,
    ):
        self.path = Path(path)
        self.config = config
        self.main_process = main_process
        self.keep_checkpoints = keep_checkpoints
        self.checkpoint_buffer = checkpoint_buffer
        self.checkpoint = self.path / CHECKPOINT
        self._metrics = None
        # On resume, until the first new record: the records kept before it.
        self._kept = None

    def start(self, history: list[dict], record: dict, *, resumed_at: int | None):
        """Write `config.json`, and `metrics.jsonl` for a new run; then keep
        `metrics.jsonl` open for appending. `resumed_at`: the epoch resumed from (0 if
        there was no checkpoint yet), or `None` for a new run (whose old run files,
        under `overwrite`, go). On resume, `history` (the records up to `resumed_at`)
        replaces `metrics.jsonl` only with the first new record."""
        if not self.main_process:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        meta_file = self.path / "config.json"
        entry = {**record, "time": now, "versions": versions()}
        if resumed_at is None:
            for file in run_files(self.path) + [self.path / n for n in OUTPUTS]:
                file.unlink(missing_ok=True)
            meta = {"config": config_dict(self.config), **entry, "resumes": []}
        else:
            meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
            meta.setdefault("resumes", []).append({"epoch": resumed_at, **entry})
            meta["config"] = config_dict(self.config)
        _atomic_write(meta_file, json.dumps(meta, indent=2) + "\n")
        if resumed_at is None:
            self._replace_metrics(history)
        else:
            self._kept = list(history)

    def _replace_metrics(self, records: list[dict]) -> None:
        _atomic_write(
            self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in records)
        )
        self._metrics = open(self.path / "metrics.jsonl", "a")

    def write(self, record: dict) -> None:
        if self._kept is not None:
            self._replace_metrics([*self._kept, record])
            self._kept = None
        elif self._metrics is not None:
            self._metrics.write(json.dumps(record) + "\n")
            self._metrics.flush()

    def save(self, ts, epoch: int) -> None:
        """Checkpoint `ts` at `epoch` (every process calls this: arrays split across
        hosts are gathered). The newest checkpoint is always whole: the new one is
        renamed over it, and the old one kept under its epoch if asked."""
        keep = self.main_process and self.keep_checkpoints > 1
        if keep and self.checkpoint.exists():
            old = read_header(self.checkpoint)["epoch"]
            older = self.path / f"checkpoint-epoch{old:06d}.eqx"
            if not older.exists():
                try:
                    os.link(self.checkpoint, older)
                except OSError:  # no hard links on this file system
                    shutil.copyfile(self.checkpoint, older.with_suffix(".tmp"))
                    os.replace(older.with_suffix(".tmp"), older)
        if not self.checkpoint_buffer:
            ts = eqx.tree_at(lambda t: t.buffer, ts, None)
        meta = {
            "config": config_dict(self.config),
            "epoch": epoch,
            "buffer": self.checkpoint_buffer,
        }
        save_checkpoint(self.checkpoint, ts, meta)
        if self.main_process:
            older = older_checkpoints(self.path)
            for _, file in older[: max(0, len(older) - self.keep_checkpoints + 1)]:
                file.unlink()

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
