"""The command-line interface the examples share: presets of `CRLConfig`, every field
as a flag (by tyro, `pip install 'equicrl[examples]'`), a run directory that is never
overwritten by mistake, resume and extend, evaluation of a trained run, and optional
loggers. User errors are one line on stderr and exit status 2, before anything is
built; Ctrl-C exits with status 130 and says how to resume."""

import argparse
import contextlib
import dataclasses
import datetime
import functools
import io
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .._checks import check_positive_int
from ..training._config import CRLConfig
from ._options import _Plan, TrainOptions


_DEFAULTS = TrainOptions(config=CRLConfig())


class UsageError(Exception):
    """A mistake in the command line or its run directory: one line, exit status 2."""


# What the checks before the build raise for bad input: printed as one line.
_USER_ERRORS = (UsageError, ValueError, TypeError, OSError, KeyError)


# Options a resumed run takes from the command that started it, unless given again.
_INHERITED = (
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
    "light_checkpoints",
    "tensorboard",
)


def train_cli(
    presets: Mapping[str, CRLConfig],
    *,
    description: str,
    args: Sequence[str] | None = None,
    prog: str | None = None,
):
    """Parse a command line into a [`equicrl.CRLConfig`][] and run
    [`equicrl.train`][] with it: the examples' whole `main`.

    `--preset NAME` picks one of `presets` (the first is the default); every config
    field is then a flag (`--num-envs 64`, `--critic-depth 64`, ...); `--help` lists
    them with the chosen preset's values. `--resume RUN_DIR` continues a run (with
    `--total-env-steps N`, extends it); `--eval-only RUN_DIR` evaluates a trained one.

    Every check that needs nothing built runs first; a user error (a bad flag, an
    unknown env, too few devices, a run directory that holds a run, a checkpoint that
    is missing, truncated or of another config) is printed as one line and exits with
    status 2. Ctrl-C exits with status 130, naming the last checkpoint and the
    command that resumes from it.

    **Returns:**

    `(state, history, run_dir)`; for `--eval-only`, `(run, results, out_dir)`.
    """
    import jax

    program = prog or Path(sys.argv[0]).name
    argv = list(sys.argv[1:] if args is None else args)
    with _user_errors(program):
        options, preset_config = _parse_options(presets, description, argv, prog)
    if options.compilation_cache:
        use_compilation_cache()
    if options.distributed:
        jax.distributed.initialize()
    if options.eval_only is not None:
        with _user_errors(program):
            _refuse_run_flags(options, preset_config)
            from ..runs._load import load_run

            run = load_run(options.eval_only)
        from ._run import evaluate_run

        return evaluate_run(run)
    with _user_errors(program):
        plan = _plan(options, preset_config, program)
        # Also run by train(); here so that its errors are one line.
        from ..runs._preflight import check_run

        check_positive_int("--eval-every", plan.options.eval_every)
        check_positive_int("--checkpoint-every", plan.options.checkpoint_every)
        check_positive_int("--keep-checkpoints", plan.options.keep_checkpoints)
        header = check_run(
            plan.config, plan.run_dir, resume=plan.resume, overwrite=options.overwrite
        )
    from ..runs._rundir import num_epochs
    from ._run import run_training

    finished = header is not None and header["epoch"] >= num_epochs(plan.config)
    return run_training(plan, program, argv, finished=finished)


def use_compilation_cache() -> Path | None:
    """Give JAX a persistent compilation cache in the user's own cache directory
    (`$XDG_CACHE_HOME/equicrl/jax`, else `~/.cache/equicrl/jax`, made readable by
    its owner alone), unless `EQUICRL_COMPILATION_CACHE` is `0` (or `false`, `no`,
    `off`), JAX already has a cache directory (`JAX_COMPILATION_CACHE_DIR` or
    `jax.config`), or the directory belongs to another user. Returns the directory
    used, or `None`."""
    import jax

    setting = os.environ.get("EQUICRL_COMPILATION_CACHE", "1").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return None
    if jax.config.jax_compilation_cache_dir:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    path = Path(base) / "equicrl" / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
            return None  # never a cache another user can write
        path.chmod(0o700)
    except OSError:
        return None  # no cache rather than no run
    jax.config.update("jax_compilation_cache_dir", str(path))
    return path


@contextlib.contextmanager
def _user_errors(program: str):
    """Turn the user errors raised inside into one line on stderr and exit 2."""
    try:
        yield
    except _USER_ERRORS as e:
        message = " ".join(str(e).split()) or type(e).__name__
        if isinstance(e, KeyError) and e.args:
            message = str(e.args[0])
        print(f"{program}: error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def _parse_options(
    presets: Mapping[str, CRLConfig],
    description: str,
    args: list[str],
    prog: str | None,
) -> tuple[TrainOptions, CRLConfig]:
    """The parsed options, and the config of the preset they start from."""
    import tyro

    if not presets:
        raise ValueError("`presets` must name at least one config")
    names = list(presets)
    # A first pass finds the preset, so that `--help` shows its values as defaults.
    pre = argparse.ArgumentParser(add_help=False, prog=prog, exit_on_error=False)
    pre.add_argument("--preset", default=names[0])
    known, _ = pre.parse_known_args(args)
    if known.preset not in presets:
        raise UsageError(
            f"unknown --preset {known.preset!r}; the presets are {', '.join(names)}"
        )
    description = (
        f"{description}\n\nPresets (--preset): {', '.join(names)}; default "
        f"{names[0]}. The defaults below are those of --preset {known.preset}."
    )
    default = TrainOptions(config=presets[known.preset], preset=known.preset)
    with _one_line_tyro_errors(), _plain_help():
        options = tyro.cli(
            TrainOptions,
            default=default,
            args=args,
            prog=prog,
            description=description,
            config=(tyro.conf.OmitArgPrefixes,),
        )
    return options, presets[known.preset]


# The docs' cross-references: [`equicrl.distill`][] or [the text][equicrl.x].
_CROSS_REFERENCE = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
# A line break inside a paragraph: not before a blank line or a bullet.
_SOFT_BREAK = re.compile(r"[ \t]*\n(?![ \t]*(?:\n|- ))[ \t]*")


def plain_help_text(text: str) -> str:
    """A docstring as `--help` shows it: the docs' cross-references as their text,
    and each paragraph on one line (the terminal wraps it), bullets kept."""
    return _SOFT_BREAK.sub(" ", _CROSS_REFERENCE.sub(r"\1", text))


@contextlib.contextmanager
def _plain_help():
    """tyro shows a field's docstring with its source's line breaks, so its help
    broke mid-phrase at any terminal width, and with the docs' cross-reference syntax.
    Its field docstrings pass through `plain_help_text` while it parses. (If a tyro
    release moves the function this wraps, help is shown as written.)"""
    from tyro import _docstrings

    original = getattr(_docstrings, "get_field_docstring", None)
    if original is None:
        yield
        return

    @functools.wraps(original)
    def plain(*args, **kwargs):
        text = original(*args, **kwargs)
        return plain_help_text(text) if isinstance(text, str) else text

    _docstrings.get_field_docstring = plain
    try:
        yield
    finally:
        _docstrings.get_field_docstring = original


@contextlib.contextmanager
def _one_line_tyro_errors():
    """tyro reports a bad flag in a box of several lines; keep its message, as one
    line (or its whole output, if the message cannot be found)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            yield
    except SystemExit as e:
        text = err.getvalue()
        if e.code not in (0, None):
            # The box's rows, without their borders; the message ends at a rule.
            rows = [r.strip(" │╭╮╰╯") for r in text.splitlines()]
            found = next((i for i, r in enumerate(rows) if "Error parsing" in r), None)
            if found is not None:
                end = next(
                    (j for j in range(found, len(rows)) if rows[j].startswith("──")),
                    len(rows),
                )
                message = " ".join(rows[found:end])
                # A config value that its checks refuse: the check's message says all.
                message = message.removeprefix("Error parsing config: ")
                raise UsageError(message) from None
            found = next(
                (
                    i
                    for i, r in enumerate(rows)
                    if r.startswith(("Unrecognized option:", "Unrecognized options:"))
                ),
                None,
            )
            if found is not None:
                # "Unrecognized options: --num-env, 32", and tyro's guesses (not its
                # rules, which are dashes where the terminal has no box characters).
                guesses = [
                    r for r in rows[found:] if r.startswith("--") and set(r) != {"-"}
                ]
                # tyro lists the value after an unknown flag as an option too
                # ("--num-env, 32"): name the flags alone.
                given = [x.strip() for x in rows[found].split(":", 1)[1].split(",")]
                flags = [x for x in given if x.startswith("-")] or given
                raise UsageError(
                    f"unrecognized option{'s' * (len(flags) > 1)}: "
                    + ", ".join(flags)
                    + (f"; perhaps you meant {', '.join(guesses)}" if guesses else "")
                    + "; see --help"
                ) from None
        sys.stderr.write(text)
        raise
    sys.stderr.write(err.getvalue())


def _refuse_run_flags(options: TrainOptions, preset_config: CRLConfig) -> None:
    changed = _changed_fields(options.config, preset_config)
    if options.resume or options.run_dir or changed:
        raise UsageError(
            "--eval-only reads everything from the run; leave out --resume, "
            "--run-dir and config flags"
            + (f" (given: {', '.join(changed)})" * bool(changed))
        )


def _changed_fields(config: CRLConfig, preset_config: CRLConfig) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(CRLConfig)
        if getattr(config, f.name) != getattr(preset_config, f.name)
    ]


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _plan(options: TrainOptions, preset_config: CRLConfig, program: str) -> _Plan:
    """The run's config and directory: the saved ones under `--resume` (with
    `--total-env-steps`, extended), else the flags' config and `--run-dir` (or a new
    directory named after the env, seeds and time)."""
    from ..runs._rundir import config_from_dict, EXTENSIBLE

    if options.resume is None:
        config = options.config
        run_dir = options.run_dir or _default_run_dir(config)
        return _Plan(config, run_dir, False, options)
    run_dir = options.resume
    if options.run_dir is not None or options.overwrite:
        raise UsageError(
            "--resume continues a run in place: leave out --run-dir and --overwrite"
        )
    saved = run_dir / "config.json"
    if not saved.exists():
        raise FileNotFoundError(f"nothing to resume: {saved} does not exist")
    meta = json.loads(saved.read_text())
    made_by = meta.get("program")
    if made_by is not None and made_by != program:
        raise UsageError(
            f"{run_dir} was made by {made_by}, not {program}; resume it with "
            f"{made_by} --resume {run_dir}"
        )
    changed = _changed_fields(options.config, preset_config)
    refused = [f for f in changed if f not in EXTENSIBLE]
    if refused:
        raise UsageError(
            "--resume continues with the config saved in the run directory; only "
            f"{', '.join(map(_flag, EXTENSIBLE))} may change it (to extend the run), "
            f"and these flags were given: {', '.join(map(_flag, refused))}"
        )
    config = config_from_dict(meta["config"])
    config = config.replace(**{f: getattr(options.config, f) for f in changed})
    # The options of the latest command that ran it.
    saved_options = ([meta, *meta.get("resumes", [])])[-1].get("cli", {})
    inherited = {
        name: saved_options[name]
        for name in _INHERITED
        if name in saved_options and getattr(options, name) == getattr(_DEFAULTS, name)
    }
    return _Plan(config, run_dir, True, dataclasses.replace(options, **inherited))


def _default_run_dir(config: CRLConfig) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    last = config.seed + config.num_seeds - 1
    seeds = f"seed{config.seed}" + (f"-{last}" if last != config.seed else "")
    return Path("runs") / f"{config.env_name}-{seeds}-{stamp}"
