"""The validation helpers on their own: users without the test-time type checker rely on
these for clear errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from equicrl import _checks


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_int_accepts(value):
    assert _checks.check_positive_int("n", value) == int(value)


@pytest.mark.parametrize(
    "value,error",
    [
        (0, ValueError),
        (-2, ValueError),
        (2.0, TypeError),
        (True, TypeError),
        ("3", TypeError),
    ],
)
def test_positive_int_rejects_naming_the_argument(value, error):
    with pytest.raises(error, match="`depth`"):
        _checks.check_positive_int("depth", value)


def test_choice_lists_the_options():
    with pytest.raises(ValueError, match="`energy`.*'l2', 'dot'.*'cosyne'"):
        _checks.check_choice("energy", "cosyne", ("l2", "dot"))


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_non_negative_float_rejects(value):
    with pytest.raises(ValueError, match="`c`"):
        _checks.check_non_negative_float("c", value)


def test_check_array():
    _checks.check_array("x", jnp.ones(3), (3,), where="M")
    with pytest.raises(ValueError, match=r"M: `x` must have shape \(3,\), got \(4,\)"):
        _checks.check_array("x", jnp.ones(4), (3,), where="M")
    with pytest.raises(ValueError, match="vmap"):
        _checks.check_array("x", jnp.ones((2, 3)), (3,), where="M")
    with pytest.raises(TypeError, match="floating"):
        _checks.check_array("x", jnp.ones(3, jnp.int32), (3,), where="M")
    with pytest.raises(TypeError, match="array"):
        _checks.check_array("x", [1.0, 2.0, 3.0], (3,), where="M")
