"""Argument validation shared by the modules.

The checks run in Python at construction or trace time, on static information only
(sizes, shapes, dtypes), so they cost nothing inside a compiled function.
"""

import operator
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp


def check_positive_int(name: str, value: Any) -> int:
    """Return `value` as an `int`; raise naming `name` unless it is an integer >= 1."""
    if isinstance(value, bool):
        raise TypeError(f"`{name}` must be a positive integer, got the bool {value!r}.")
    try:
        as_int = operator.index(value)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a positive integer, got {value!r} of type "
            f"{type(value).__name__}."
        ) from None
    if as_int <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {as_int}.")
    return as_int


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Raise naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )
    return value


def check_remat(value: Any) -> bool | str:
    """Raise unless `value` is a `remat` setting: `True`, `False` or `"nested"`."""
    if isinstance(value, bool) or (isinstance(value, str) and value == "nested"):
        return value
    raise ValueError(f'`remat` must be True, False or "nested"; got {value!r}')


def check_callable(name: str, value: Any) -> Callable:
    if not callable(value):
        raise TypeError(f"`{name}` must be callable, got {value!r}.")
    return value


def check_non_negative_float(name: str, value: Any) -> float:
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.") from None
    if not as_float >= 0 or as_float == float("inf"):
        raise ValueError(f"`{name}` must be finite and >= 0, got {value!r}.")
    return as_float


def check_array(name: str, x: Any, shape: tuple[int, ...], *, where: str) -> None:
    """Raise naming `name` unless `x` is a floating-point array of exactly `shape`.

    `where` names the module or function, so the message says which call was wrong.
    """
    x_shape = getattr(x, "shape", None)
    x_dtype = getattr(x, "dtype", None)
    if x_shape is None or x_dtype is None:
        raise TypeError(
            f"{where}: `{name}` must be a JAX or NumPy array, got {type(x).__name__}."
        )
    if not jnp.issubdtype(x_dtype, jnp.floating):
        raise TypeError(
            f"{where}: `{name}` must have a floating-point dtype, got {x_dtype}."
        )
    if tuple(x_shape) != tuple(shape):
        raise ValueError(
            f"{where}: `{name}` must have shape {tuple(shape)}, got {tuple(x_shape)}."
            + _batch_hint(x_shape, shape)
        )


def _batch_hint(x_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    if len(x_shape) == len(shape) + 1 and tuple(x_shape[1:]) == tuple(shape):
        return (
            " Modules act on one unbatched example: use `jax.vmap` over the batch axis."
        )
    return ""
