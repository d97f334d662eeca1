"""A finished (or stopped) run read back from its directory, to use its policy."""

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.random as jr

from ..nn._actor import check_actor_mode
from ..training._config import CRLConfig
from ..training._evaluate import evaluate, evaluate_seeds
from ..training._state import (
    env_steps,
    make_parts,
    read_state,
    seed_keys,
    split_seed_key,
    take_seed,
    TrainState,
)
from ._rundir import CHECKPOINT, config_from_dict, latest_options, read_metrics


# The evaluation key `load_run(...).evaluate()` folds in by default: no epoch of
# training uses it, so its episodes are not those of the run's own evaluations.
EVAL_ONLY_KEY = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Run:
    """A run read back by [`equicrl.load_run`][]."""

    path: Path
    config: CRLConfig
    state: TrainState
    """The checkpoint's state (of every seed: see [`equicrl.seed_state`][]); its
    `buffer` is `None` if the checkpoint was saved without it."""
    epoch: int
    """The epoch of the checkpoint."""
    history: list[dict]
    """The metrics of epochs 1 to `epoch`."""
    meta: dict
    """The run's `config.json`: how it was started and resumed, and with what."""
    env: object
    """The training env (unwrapped [`equicrl.envs.GoalEnv`][])."""
    eval_env: object
    """The evaluation env (the `_eval` variant, if registered)."""

    @property
    def actor(self):
        """The trained actor (with a leading seed axis for a run of several seeds)."""
        return self.state.crl.actor

    @property
    def critic(self):
        """The trained critic (with a leading seed axis for a run of several
        seeds). A distilled student has none: its critic was never trained, and
        asking for it raises a `ValueError` (its teacher's run has one)."""
        self._refuse_student("Run.critic")
        return self.state.crl.critic

    def _refuse_student(self, what: str) -> None:
        if self.config.teacher is not None:
            raise ValueError(
                f"{what}: the run in {self.path} is a distilled student, whose "
                f"critic was never trained; its teacher's run "
                f"({self.config.teacher}) has one"
            )

    def policy(self, seed: int = 0, *, mode: int | None = None):
        """The trained actor (of seed index `seed`, for a run of several seeds) as an
        [`equicrl.Policy`][] to deploy: `policy(state, goal[, key]) -> action`,
        jitted; `policy.save(path)` writes it alone to a small file.

        It acts as the run's evaluations did (`mode=None`: `config.eval_actor`), so
        that it is the policy the run scored: the mean action (0) or a sample (1,
        which needs a `key` at every call). `mode` chooses the other. A run that
        evaluated the best of several samples by its critic (`eval_actor >= 2`)
        needs `mode` given: a policy holds the actor alone."""
        from ..nn._policy import Policy

        c = self.config
        if mode is None:
            mode = c.eval_actor
            if mode > 1:
                raise ValueError(
                    f"the run in {self.path} evaluated the best of {mode} samples by "
                    "its critic (eval_actor), and a Policy holds the actor alone: "
                    "choose `mode=0` (the mean action) or `mode=1` (a sample)"
                )
        actor, _ = self._seed_networks(seed, critic=False)
        info = dict(
            env_name=c.env_name,
            run=str(self.path),
            epoch=self.epoch,
            seed=c.seed + seed,
            teacher=c.teacher,
        )
        return Policy(actor, info, mode=mode)

    @property
    def env_steps(self) -> int:
        return env_steps(self.config, self.state.collections)

    def evaluate(
        self,
        num_episodes: int | None = None,
        *,
        fold: int | None = None,
        env_name: str | None = None,
        mode: int | None = None,
    ) -> list[dict[str, float]]:
        """Evaluate the trained actor as training does ([`equicrl.evaluate`][] on
        `eval_env`, `config.eval_envs` episodes unless `num_episodes`), with each
        seed's evaluation key folded with `fold`. One dict per seed.

        By default (`fold=None`) the key is the one training's own evaluation used
        at the checkpoint's epoch, so on a finished run this gives the final
        evaluation it printed and recorded (the same episodes; on another machine,
        up to its float rounding). Another `fold` gives other episodes: one that no
        epoch number can be, such as `2**31 - 1` (what `--eval-only` uses), draws
        episodes that no training evaluation saw.

        `env_name` evaluates on another env instead (built with the run's
        `env_overrides`), e.g. a stitching maze at another distance; it must have
        the run's observation and action sizes.

        `mode` makes the actor act otherwise than the run's evaluations did
        (`config.eval_actor`): 0, the mean action; 1, a sample; `K >= 2`, the best of
        `K` samples by the critic ([`equicrl.act`][])."""
        c = self.config
        env = self.eval_env if env_name is None else self._other_env(env_name)
        keys = seed_keys(c)
        mode = c.eval_actor if mode is None else check_actor_mode("mode", mode)
        kwargs = dict(
            num_episodes=num_episodes or c.eval_envs,
            episode_length=c.episode_length,
            mode=mode,
        )
        if mode >= 2:  # the mode ranks actions by the critic
            kwargs["critic" if c.num_seeds == 1 else "critics"] = self.critic

        fold = self.epoch if fold is None else fold

        def eval_key(key):
            return jr.fold_in(split_seed_key(key)[3], fold)

        if c.num_seeds == 1:
            key = eval_key(keys)
            return [evaluate(self.actor, env, key=key, **kwargs)]
        keys = jax.vmap(eval_key)(keys)
        return evaluate_seeds(self.actor, env, keys=keys, **kwargs)

    def _other_env(self, env_name: str):
        from ..envs import make_env

        env = make_env(
            env_name, **(latest_options(self.meta).get("env_overrides") or {})
        )
        ours = (self.env.state_dim, self.env.goal_dim, self.env.action_size)
        theirs = (env.state_dim, env.goal_dim, env.action_size)
        if theirs != ours:
            raise ValueError(
                f"{env_name!r} has (state, goal, action) sizes {theirs}, the run's "
                f"env {self.config.env_name!r} {ours}: its actor cannot act there"
            )
        return env

    def _seed_networks(self, seed: int, critic: bool = True):
        c = self.config
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"`seed` must be an int, got {seed!r}")
        if not 0 <= seed < c.num_seeds:
            raise ValueError(
                f"`seed` {seed} is not a seed index of this run of {c.num_seeds} "
                f"seed(s) (0 to {c.num_seeds - 1})"
            )
        nets = (self.actor, self.critic if critic else None)
        return take_seed(nets, seed) if c.num_seeds > 1 else nets

    def q_value_map(self, goal, *, seed: int = 0, per_cell: int = 12):
        """[`equicrl.q_value_map`][] of seed index `seed`'s networks for `goal` (an
        (x, y) position) over the run's maze, the rest of the state as after a reset
        of the training env."""
        from ..training._maps import q_value_map

        self._refuse_student("Run.q_value_map()")
        actor, critic = self._seed_networks(seed)
        key = jr.fold_in(jr.key(self.config.seed + seed), EVAL_ONLY_KEY)
        return q_value_map(actor, critic, self.env, goal, key=key, per_cell=per_cell)

    def goal_embeddings(self, goal, *, seed: int = 0, **kwargs):
        """[`equicrl.goal_embeddings`][] of seed index `seed`'s networks around
        `goal`."""
        from ..training._maps import goal_embeddings

        self._refuse_student("Run.goal_embeddings()")
        actor, critic = self._seed_networks(seed)
        key = jr.fold_in(jr.key(self.config.seed + seed), EVAL_ONLY_KEY)
        return goal_embeddings(actor, critic, self.env, goal, key=key, **kwargs)

    def evaluate_distances(
        self,
        distances: Sequence[int] | None = None,
        num_episodes: int | None = None,
        *,
        fold: int = EVAL_ONLY_KEY,
    ) -> dict[int, list[dict[str, float]]]:
        """Evaluate a run of a stitching maze (`ROBOT_LAYOUT_gen_DISTANCES`) at each
        of `distances` along the maze's corridor (default: every one, 1 to the
        corridor's length), trained on or not: `self.evaluate(env_name=...)` on
        `ROBOT_LAYOUT_gen_Kf` for each distance `K`.

        **Returns:**

        `{K: [one dict per seed]}`, in the order of `distances`.
        """
        from ..envs import get_layout
        from ..envs._registry import parse_stitching

        parsed = parse_stitching(self.config.env_name)
        if parsed is None:
            raise ValueError(
                f"the run's env {self.config.env_name!r} is no stitching maze "
                "(ROBOT_LAYOUT_gen_DISTANCES, e.g. point_maze_u_maze_gen_1f2f3f)"
            )
        robot, layout, _ = parsed
        if distances is None:
            distances = range(1, len(get_layout(layout).corridor()))
        return {
            int(k): self.evaluate(
                num_episodes, fold=fold, env_name=f"{robot}_{layout}_gen_{k}f"
            )
            for k in distances
        }


def load_run(run_dir: str | Path) -> Run:
    """Read the run in `run_dir` (written by [`equicrl.train`][] or an example) back:
    its config, its newest checkpoint's state and trained networks, and its metrics.
    Nothing in the directory is written.

    ```python
    run = equicrl.load_run("runs/point_maze_u_maze-seed0-20261126-101500")
    run.actor, run.critic  # the trained networks
    run.evaluate()  # [{"success": ..., "time_at_goal": ..., ...}], the final one's

    # The trained policy (as the run evaluated it) on an env's state and goal:
    policy, env = run.policy(), run.eval_env
    key, reset_key, act_key = jax.random.split(jax.random.key(1), 3)
    env_state = env.reset(reset_key)  # its obs is concat(state, goal)
    obs = env_state.obs
    # The key: for a policy that samples (`policy.mode == 1`); a fresh one a step.
    action = policy(obs[: env.state_dim], env.commanded_goal(obs), act_key)
    env_state = env.step(env_state, action)
    ```

    Works on any machine: the state is read onto the default device, whatever number
    of devices trained it.

    **Raises:**

    `FileNotFoundError` if there is no `config.json` or checkpoint, `ValueError` if
    the checkpoint is corrupt or does not belong to the config.
    """
    path = Path(run_dir)
    meta_file = path / "config.json"
    if not meta_file.exists():
        raise FileNotFoundError(f"no run in {path}: {meta_file} does not exist")
    if not (path / CHECKPOINT).exists():
        raise FileNotFoundError(f"the run in {path} has no checkpoint ({CHECKPOINT})")
    meta = json.loads(meta_file.read_text())
    config = config_from_dict(meta["config"])
    overrides = latest_options(meta).get("env_overrides") or {}
    # One device: a run trained on several reads back anywhere.
    parts = make_parts(config.replace(num_devices=1), overrides)
    state, epoch = read_state(path / CHECKPOINT, parts)
    history = read_metrics(path, up_to=epoch)
    return Run(path, config, state, epoch, history, meta, parts.env, parts.eval_env)
