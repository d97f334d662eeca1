"""The driver's side of a run: epoch records of one or several seeds, the progress
lines and divergence reports. (The run directory is `_rundir.py`.)"""

import math

import numpy as np

from ..training._config import CRLConfig
from ._rundir import prefill_steps, steps_at_epoch


def fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def seed_records(metrics: dict, num_seeds: int) -> list[dict]:
    """Per-seed records (dicts of floats) from metrics with a leading seed axis (or
    none, for one seed)."""
    arrays = {k: np.asarray(v) for k, v in metrics.items()}
    if num_seeds == 1:
        return [{k: float(v) for k, v in arrays.items()}]
    return [{k: float(v[i]) for k, v in arrays.items()} for i in range(num_seeds)]


def combine(seeds: list[dict], extra: dict) -> dict:
    """One epoch's record. For one seed, its metrics; for several, the mean over seeds
    of each metric, with `eval/NAME_stderr` the standard error *over seeds* of the
    seeds' mean `eval/NAME`, and each seed's own record (episode standard errors
    included) under `"seeds"`."""
    if len(seeds) == 1:
        return {**seeds[0], **extra}
    record = {}
    for name in seeds[0]:
        if name.startswith("eval/") and name.endswith("_stderr"):
            values = np.array([s[name.removesuffix("_stderr")] for s in seeds])
            record[name] = float(values.std(ddof=1) / math.sqrt(len(values)))
        else:
            record[name] = float(np.mean([s[name] for s in seeds]))
    return {**record, **extra, "seeds": seeds}


def flat(record: dict) -> dict:
    """`record` as a flat dict of floats for loggers: each seed's metrics as
    `seed_I/NAME`."""
    out = {k: v for k, v in record.items() if k != "seeds"}
    for i, seed in enumerate(record.get("seeds", ())):
        out.update({f"seed_{i}/{k}": v for k, v in seed.items()})
    return out


def _value(record: dict, name: str, fmt: str) -> str:
    text = format(record[name], fmt)
    if "seeds" in record:
        values = [s[name] for s in record["seeds"]]
        text += f" [{format(min(values), fmt)}, {format(max(values), fmt)}]"
    return text


def progress_line(
    record: dict, last_eval: dict | None, fraction: float, eta: float | None
) -> str:
    """`[ 12.5%] env steps ... | sps | ETA | losses | eval`, the evaluation from the
    record `last_eval`; for several seeds the means, each with the range over seeds in
    brackets. `eta=None`: not known yet (the first epoch, which compiles)."""
    speed = (
        "sps and ETA estimating"
        if eta is None
        else (f"{record['sps']:,.0f} sps | ETA {fmt_time(eta)}")
    )
    if "distill_loss" in record:
        losses = (
            f"distill {_value(record, 'distill_loss', '.4f')} "
            f"action error {_value(record, 'action_error', '.4f')}"
        )
    else:
        losses = (
            f"critic {_value(record, 'critic_loss', '.3f')} "
            f"actor {_value(record, 'actor_loss', '.3f')} "
            f"alpha {_value(record, 'alpha', '.3f')}"
        )
    line = (
        f"[{100 * fraction:5.1f}%] env steps {record['env_steps']:,} | {speed} | "
        + losses
    )
    if last_eval is not None:
        r = last_eval
        seeds = f" ({len(r['seeds'])} seeds)" if "seeds" in r else ""
        line += (
            f" | eval{seeds}: time at goal {_value(r, 'eval/time_at_goal', '.1f')}, "
            f"success {_value(r, 'eval/success', '.2f')}, "
            f"final dist {_value(r, 'eval/final_dist', '.2f')}"
        )
        if "eval/collector_success" in r:
            line += (
                " | collector: time at goal "
                f"{_value(r, 'eval/collector_time_at_goal', '.1f')}, success "
                f"{_value(r, 'eval/collector_success', '.2f')}"
            )
        learners = [
            k[len("eval/") : -len("_success")]
            for k in r
            if k.startswith("eval/learner") and k.endswith("_success")
        ]
        for name in learners:
            line += (
                f" | {name.replace('learner', 'learner depth ')}: time at goal "
                f"{_value(r, f'eval/{name}_time_at_goal', '.1f')}, success "
                f"{_value(r, f'eval/{name}_success', '.2f')}"
            )
    return line


# The network of each of `equicrl._learn.CHECKS` on one, and for its parameters,
# what to call them; the batch's checks name what the batch holds.
_NETWORK_CHECKS = {
    "distill_loss": ("actor", None),
    "critic_loss": ("critic", None),
    "critic_params": ("critic", "the critic's parameters are"),
    "actor_loss": ("actor", None),
    "actor_params": ("actor", "the actor's parameters are"),
    "alpha_loss": ("temperature", None),
    "log_alpha": ("temperature", "the temperature's log alpha is"),
    "collector_critic_loss": ("collector's critic", None),
    "collector_actor_loss": ("collector's actor", None),
    "collector_alpha_loss": ("collector's temperature", None),
    "collector_params": ("collector", "the collector's parameters are"),
    "learners_loss": ("learners", None),
    "learners_params": ("learners", "a learner's parameters are"),
}
_BATCH_CHECKS = {
    "batch_state": "states",
    "batch_action": "actions",
    "batch_goal": "goals",
}


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return True


def check_finite(first_nonfinite, record: dict, epoch: int, c, checkpoint) -> None:
    """Raise a `FloatingPointError` if a check of `equicrl._learn.CHECKS` failed in
    the epoch. At the first gradient step (and seed) where any failed, it names the
    network where the divergence started (the first failed check in `CHECKS`'s
    order), what was not finite there, and any non-finite data in that step's batch.
    """
    from ..training._learn import CHECKS

    steps = {k: seed_records({k: v}, c.num_seeds) for k, v in first_nonfinite.items()}
    failed = sorted(
        (int(r[name]), seed, CHECKS.index(name))
        for name, per_seed in steps.items()
        for seed, r in enumerate(per_seed)
        if r[name] >= 0
    )
    if not failed:
        return
    step, seed, _ = failed[0]
    at_step = [CHECKS[i] for s, d, i in failed if (s, d) == (step, seed)]
    data = " and ".join(_BATCH_CHECKS[n] for n in at_step if n in _BATCH_CHECKS)
    networks = [n for n in at_step if n in _NETWORK_CHECKS]
    of_seed = f" in seed {c.seed + seed}" if c.num_seeds > 1 else ""
    g = c.gradient_steps_per_collection
    where = (
        f"{of_seed} at gradient step {step + 1} of {g} in epoch {epoch} (gradient "
        f"step {(epoch - 1) * g + step + 1} of the run, env step "
        f"{record['env_steps']:,})"
    )
    batch = (
        f"non-finite {data} (from the replay buffer: the env or the collection made "
        "them)"
    )
    if not networks:
        message = f"the batch holds {batch}{where}"
    else:
        name = networks[0]
        network, params = _NETWORK_CHECKS[name]
        if params is None:
            own = record["seeds"][seed] if "seeds" in record else record
            if name in own:
                what = f"`{name}` is not finite ({own[name]})"
            else:  # the learners' losses, checked together
                bad = [k for k, v in own.items() if "_loss" in k and not _finite(v)]
                what = f"a learner's loss is not finite ({', '.join(bad) or name})"
        else:
            what = (
                f"{params} not finite after the update (its loss was finite, "
                "its gradient or optimiser update was not)"
            )
        message = f"{what}{where}: the divergence started in the {network}" + (
            f", whose batch holds {batch}" if data else ""
        )
    raise FloatingPointError(
        f"{message}; training stopped"
        + (f", the last good checkpoint is {checkpoint}" if checkpoint else "")
    )


def prefill_source(c: CRLConfig, refill: bool = False) -> str:
    """What acts in the prefill, in words."""
    if c.prefill == "uniform":
        return "of uniform random actions"
    who = "actor" if c.collector_depth is None else "collector"
    return f"of the resumed {who}" if refill else f"of the untrained {who}"


def describe(
    c: CRLConfig, epochs: int, *, start_epoch: int = 0, refill: bool = False
) -> str:
    """The run in one line: what trains, the prefill (or, on resume, where it picks
    up), the epochs, and the step target if it was rounded to whole epochs."""
    seeds = f", {c.num_seeds} seeds (one program)" if c.num_seeds > 1 else ""
    fill = (
        f"{prefill_steps(c):,} steps "
        f"{prefill_source(c, refill)} ({c.prefill_collections} collections of "
        f"{c.unroll_length})"
    )
    steps = (
        f"{c.env_steps_per_collection:,} env steps and "
        f"{c.gradient_steps_per_collection} gradient steps (batch {c.batch_size})"
    )
    if start_epoch == 0:
        plural = "s" if epochs != 1 else ""
        plan = f"a prefill of {fill}, then {epochs} epoch{plural} of {steps}"
    else:
        refilled = f", after refilling the buffer with {fill}" if refill else ""
        plan = (
            f"resuming at epoch {start_epoch} of {epochs}{refilled}; epochs of {steps}"
        )
    total = steps_at_epoch(c, epochs)
    rounded = (
        f"; {c.total_env_steps:,} env steps asked for, {total:,} in whole epochs"
        if total != c.total_env_steps
        else ""
    )
    nets = (
        f"actor depth {c.actor_depth} width {c.actor_width} distilled from the "
        f"actor of {c.teacher} ({c.distill_loss} loss)"
        if c.teacher is not None
        else f"critic depth {c.critic_depth}, actor depth {c.actor_depth}"
    )
    if c.collector_depth is not None:
        nets += (
            f", learning from the data of a collector of depth {c.collector_depth} "
            "(its own actor and critic, learning from the same batches)"
        )
    if c.learner_depths:
        depths = ", ".join(map(str, c.learner_depths))
        nets += (
            f", collecting for learners of depths {depths} (each its own actor and "
            "critic, learning from the same batches, never acting)"
        )
    return f"equicrl: {c.env_name}, {c.num_envs} envs{seeds}, {nets}; {plan}{rounded}"
