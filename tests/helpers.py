"""Small shared test utilities (no equicrl import at module level is needed here)."""

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np


def float_arrays(shape, *, low=-3.0, high=3.0):
    """Finite float32 arrays with no subnormals, in a moderate range."""
    return hnp.arrays(
        np.float32,
        shape,
        elements=st.floats(
            low,
            high,
            width=32,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
        ),
    )


seeds = st.integers(0, 2**31 - 1)
