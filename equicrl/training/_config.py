import dataclasses
import math
from typing import Literal

from .._checks import check_choice, check_positive_int, check_remat
from ..nn._actor import check_actor_mode
from ..nn._distill import DISTILL_LOSSES
from ..nn._encoder import MATMUL_DTYPES
from ..nn._energy import ENERGIES
from ..nn._losses import INFONCE_KINDS


PREFILLS = ("actor", "uniform")
# How a training env slot starts its next episode (see `CRLConfig.episode_reset`).
EPISODE_RESETS = ("fresh", "first")
LR_SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class CRLConfig:
    """Every hyperparameter of contrastive RL, with the paper's values as defaults.

    Frozen and validated at construction: an invalid value or combination raises a
    `ValueError` (or `TypeError`) naming the fields involved.
    """

    env_name: str = "humanoid_u_maze"
    """Name of a registered env (see `equicrl.envs.list_envs()`); its `_eval` variant,
    if registered, is used for evaluation."""
    num_envs: int = 512
    """Parallel training envs."""
    unroll_length: int = 62
    """Steps each env takes per collection (one epoch)."""
    episode_length: int = 1000
    """Steps per episode, in training and evaluation."""
    episode_reset: str = "fresh"
    """How a training env starts its next episode when one ends: `"fresh"`
    (equicrl's), a new start and goal drawn from the env's reset distribution; or
    `"first"` (the release's: Brax's `AutoResetWrapper`), the env slot goes back to
    its own first state, so each of the `num_envs` slots keeps one start and one goal
    for the whole run. Evaluation always draws fresh episodes. See
    [`equicrl.envs.wrap_for_training`][]."""
    replay_rows: int = 10_000
    """Replay capacity in time rows (each row holds one step of every env; FIFO)."""
    prefill_rows: int = 1_000
    """Rows collected before learning starts (see `prefill`), rounded up to whole
    collections of `unroll_length` rows, as the research code does (1,000 -> 1,054
    at 62); the trainer prints the number it uses."""
    prefill: str = "actor"
    """What acts in the prefill: `"actor"`, the freshly initialised actor sampling
    stochastically, in the same compiled collection as training (the release's;
    its actions are as large as uniform ones on average, but consistent from step
    to step); or `"uniform"`, actions uniform in `(-1, 1)`."""
    expl_actor: int = 1
    """How the actor acts when it collects data (the release's `--expl_actor`): 0,
    the mean action `tanh(mean)`; 1 (default), a sample; `K >= 2`, `K` samples, the
    one the critic values most taken (see [`equicrl.act`][])."""
    eval_actor: int = 0
    """How the actor acts in evaluations (the release's `--eval_actor`, whose default
    is the mean action, 0); the same modes as `expl_actor`. A sampling mode draws
    fresh noise at every step (the release's evaluation reuses one key for the
    whole evaluation). It is also how the run's deployed policy acts
    (`Run.policy()`), and how its end-of-run pictures' episodes do. The main job
    (`examples/point_maze.py`) samples, 1: its mean action can stick against a wall
    (the training guide)."""
    batch_size: int = 512
    """Relabelled transitions per gradient step (also the InfoNCE negatives)."""
    env_steps_per_gradient_step: int | float = 40.0
    """Env steps per gradient step; an epoch takes
    `round(num_envs * unroll_length / env_steps_per_gradient_step)` gradient steps."""
    gamma: int | float = 0.99
    """Discount: relabelled goals are drawn k steps ahead with probability ~ gamma^k."""
    actor_lr: int | float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: int | float = 3e-4
    """Adam learning rate of the critic."""
    alpha_lr: int | float = 3e-4
    """Adam learning rate of the entropy temperature."""
    lr_schedule: str = "constant"
    """How the actor's and the critic's learning rates change over the run:
    `"constant"` (the paper's and the release's), or `"cosine"`: from `actor_lr`
    and `critic_lr` down to 0 at the run's last gradient step, along half a cosine
    (`optax.cosine_decay_schedule`), so that the policy settles as the run ends and
    its last evaluations, and the policy saved, are of one policy rather than of
    wherever the updates' noise left it. The temperature's rate stays constant."""
    logsumexp_penalty: int | float = 0.1
    """Weight of the InfoNCE logsumexp regulariser."""
    infonce_kind: str = "forward"
    """InfoNCE direction: one of `equicrl.INFONCE_KINDS`."""
    energy: str = "l2"
    """Critic energy f(phi, psi): one of `equicrl.ENERGIES`."""
    repr_dim: int = 64
    """Size of the representations phi(s, a) and psi(g)."""
    actor_width: int = 256
    """Width of the actor's residual blocks."""
    critic_width: int = 256
    """Width of the critic's residual blocks."""
    actor_depth: int = 4
    """Dense layers of the actor trunk (the paper keeps it at most 512)."""
    critic_depth: int = 4
    """Dense layers of each critic encoder (4 to 1024 in the paper)."""
    layers_per_block: int = 4
    """Dense layers per residual block; depths must be multiples of it."""
    remat: bool | Literal["nested"] = False
    """Recompute block activations in the backward pass (less memory for deep nets):
    `True` checkpoints each residual block, `"nested"` also segments of about
    sqrt(blocks) blocks (least memory, one more forward pass)."""
    matmul_dtype: str = "float32"
    """Dtype of the encoders' matrix products: `"float32"`, or `"bfloat16"` for mixed
    precision (parameters, optimiser states and losses stay float32)."""
    num_devices: int | None = None
    """Devices to train on, data parallel: envs, replay buffer and each batch are split
    across them, the networks replicated. `None` uses every device (`jax.devices()`:
    all hosts' after `jax.distributed.initialize()`); 1 turns data parallelism off.
    `num_envs`, `batch_size` and `eval_envs` must be multiples of it."""
    total_env_steps: int = 100_000_000
    """Env steps of the whole run, prefill included (rounded down to whole epochs)."""
    eval_envs: int = 128
    """Episodes per evaluation (at least 2, for a standard error)."""
    seed: int = 0
    """Seed of everything random in a run."""
    num_seeds: int = 1
    """Independent runs trained side by side in one compiled program, with seeds
    `seed, seed + 1, ..., seed + num_seeds - 1`: each seed's networks, optimiser
    states, buffer, envs and keys are its own, and it ends as a run of that one seed
    would. On small networks this is much faster than running the seeds one by one."""
    teacher: str | None = None
    """The run directory of a trained run to distil (see [`equicrl.distill`][]):
    instead of contrastive RL, the actor learns to act as the teacher's does on the
    states it visits itself, with the goals it was commanded there (on-policy, DAgger
    style); seed `i` of this run learns from seed `i` of the teacher. The critic is not
    trained. `None` (default): contrastive RL."""
    distill_loss: str = "action"
    """With a `teacher`: `"action"`, the squared error of the deterministic actions
    `tanh(mean)` (what evaluation and deployment run) plus that of the log standard
    deviations (so the student collects with its teacher's noise; before 2026-12-07
    this loss left the student's noise untrained), or `"kl"`, the KL divergence
    from the teacher's tanh-Gaussian policy to this actor's (exact, in closed form:
    tanh is one-to-one, so it is the KL of the pre-tanh Gaussians). `"action"` is the
    default because it distilled better in `benchmarks/distill.py` (a point maze, 3
    seeds: 110-116 % of the teacher's score with the seeds close, against 99-112 %
    with one seed at 56 % for `"kl"`; half the action error)."""
    collector_depth: int | None = None
    """The collector experiment: a second agent (actor and critic of this depth, the
    run's widths) collects all the data, and learns from it by contrastive RL as
    this run's own networks (the learner) do, on the same batches; the learner never
    acts in training. Evaluations report the learner (`eval/...`) and the collector
    (`eval/collector_...`). `None` (default): the run's actor collects its own
    data."""

    learner_depths: tuple[int, ...] = ()
    """The collector experiment as the paper ran it: learners (each an actor and a
    critic of that depth, the run's widths) that learn from every batch of the run's
    data, by contrastive RL, and never act; the run's own networks collect the data
    as usual. With `(4, 16)` and a run of depth 16, a deep collector feeds a shallow
    and a deep learner. Evaluations report each learner (`eval/learnerD_...`, `D`
    its depth). `()` (default): none. Not with `collector_depth` (the one-learner
    form) or a `teacher`."""

    def __post_init__(self):
        ints = (
            "num_envs unroll_length episode_length replay_rows prefill_rows batch_size "
            "repr_dim actor_width critic_width actor_depth critic_depth "
            "layers_per_block "
            "total_env_steps eval_envs num_seeds"
        ).split()
        for name in ints:
            check_positive_int(name, getattr(self, name))
        if self.num_devices is not None:
            self.check_split(check_positive_int("num_devices", self.num_devices))
        check_choice("matmul_dtype", self.matmul_dtype, MATMUL_DTYPES)
        check_remat(self.remat)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"`seed` must be an int, got {self.seed!r}")
        for name in (
            "actor_lr",
            "critic_lr",
            "alpha_lr",
            "env_steps_per_gradient_step",
        ):
            value = getattr(self, name)
            if not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}")
        if not (
            isinstance(self.logsumexp_penalty, (int, float))
            and math.isfinite(self.logsumexp_penalty)
            and self.logsumexp_penalty >= 0
        ):
            raise ValueError(
                "`logsumexp_penalty` must be finite and >= 0, got "
                f"{self.logsumexp_penalty!r}"
            )
        if not 0 < self.gamma < 1:
            raise ValueError(f"`gamma` must be in (0, 1), got {self.gamma!r}")
        check_choice("energy", self.energy, ENERGIES)
        check_choice("infonce_kind", self.infonce_kind, INFONCE_KINDS)
        check_choice("prefill", self.prefill, PREFILLS)
        check_choice("episode_reset", self.episode_reset, EPISODE_RESETS)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        for name in ("expl_actor", "eval_actor"):
            check_actor_mode(name, getattr(self, name))
            if self.teacher is not None and getattr(self, name) >= 2:
                raise ValueError(
                    f"`{name}` {getattr(self, name)} ranks actions by the critic, "
                    "which a distilled student (`teacher`) does not train"
                )
        check_choice("distill_loss", self.distill_loss, DISTILL_LOSSES)
        if self.teacher is not None and (
            not isinstance(self.teacher, str) or not self.teacher
        ):
            raise TypeError(
                "`teacher` must be a run directory (a non-empty string) or None, got "
                f"{self.teacher!r}"
            )
        if not isinstance(self.env_name, str) or not self.env_name:
            raise TypeError(
                f"`env_name` must be a non-empty string, got {self.env_name!r}"
            )
        depths = ["actor_depth", "critic_depth"]
        if self.collector_depth is not None:
            check_positive_int("collector_depth", self.collector_depth)
            depths.append("collector_depth")
            if self.teacher is not None:
                raise ValueError(
                    "`collector_depth` and `teacher` cannot be combined: a "
                    "distilled actor collects its own data"
                )
        if not isinstance(self.learner_depths, tuple):
            raise TypeError(
                f"`learner_depths` must be a tuple of depths, got "
                f"{self.learner_depths!r}"
            )
        if self.learner_depths:
            if len(set(self.learner_depths)) != len(self.learner_depths):
                raise ValueError(
                    f"`learner_depths` repeat a depth: {self.learner_depths}"
                )
            for other in ("collector_depth", "teacher"):
                if getattr(self, other) is not None:
                    raise ValueError(
                        f"`learner_depths` and `{other}` cannot be combined: the run's "
                        "own networks collect for the learners"
                    )
            for depth in self.learner_depths:
                check_positive_int("learner_depths", depth)
                if depth % self.layers_per_block:
                    raise ValueError(
                        f"`learner_depths` ({depth}) must be multiples of "
                        f"`layers_per_block` ({self.layers_per_block})"
                    )
        for name in depths:
            depth = getattr(self, name)
            if depth % self.layers_per_block:
                raise ValueError(
                    f"`{name}` ({depth}) must be a multiple of `layers_per_block` "
                    f"({self.layers_per_block})"
                )
        if self.prefill_rows > self.replay_rows:
            raise ValueError(
                f"`prefill_rows` ({self.prefill_rows}) cannot exceed `replay_rows` "
                f"({self.replay_rows})"
            )
        if self.unroll_length > self.replay_rows:
            raise ValueError(
                f"`unroll_length` ({self.unroll_length}) cannot exceed `replay_rows` "
                f"({self.replay_rows}): one collection must fit the buffer"
            )
        stored = self.num_envs * min(
            self.prefill_collections * self.unroll_length, self.replay_rows
        )
        if self.batch_size > stored:
            raise ValueError(
                f"`batch_size` ({self.batch_size}) is more than the {stored} "
                f"transitions in the buffer when learning starts (`num_envs` "
                f"{self.num_envs} x {stored // self.num_envs} rows of prefill, "
                "`prefill_rows` rounded up to whole `unroll_length`s): every batch "
                "would repeat transitions; raise `prefill_rows` or `num_envs`, or "
                "lower `batch_size`"
            )
        if self.eval_envs < 2:
            raise ValueError(
                f"`eval_envs` ({self.eval_envs}) must be at least 2: evaluations "
                "report a standard error over episodes"
            )
        if self.total_env_steps < self.env_steps_per_collection:
            raise ValueError(
                f"`total_env_steps` ({self.total_env_steps}) is less than one "
                "collection "
                f"(`num_envs` x `unroll_length` = {self.env_steps_per_collection})"
            )

    def check_split(self, devices: int) -> None:
        """Raise unless `num_envs`, `batch_size` and `eval_envs` split evenly across
        `devices` (each device gets an equal share)."""
        for name in ("num_envs", "batch_size", "eval_envs"):
            if getattr(self, name) % devices:
                raise ValueError(
                    f"`{name}` ({getattr(self, name)}) must be a multiple of the "
                    f"{devices} devices trained on (`num_devices`; 1 turns data "
                    f"parallelism off): each device gets an equal share"
                )

    @property
    def env_steps_per_collection(self) -> int:
        return self.num_envs * self.unroll_length

    @property
    def prefill_collections(self) -> int:
        """Collections of the prefill, before learning: `prefill_rows` rounded up to
        whole collections of `unroll_length` rows."""
        return -(-self.prefill_rows // self.unroll_length)

    @property
    def num_epochs(self) -> int:
        """Epochs of the run: the env steps after the prefill in whole collections
        (at least one)."""
        rest = self.total_env_steps - self.prefill_collections * (
            self.env_steps_per_collection
        )
        return max(1, rest // self.env_steps_per_collection)

    @property
    def gradient_steps_per_collection(self) -> int:
        """`env_steps_per_collection / env_steps_per_gradient_step`, rounded to the
        nearest integer (at least 1); the trainer prints the value it uses."""
        ratio = self.env_steps_per_collection / self.env_steps_per_gradient_step
        return max(1, round(ratio))

    def replace(self, **changes) -> "CRLConfig":
        """A copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)
