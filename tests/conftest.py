# equicrl is deliberately not imported here: the jaxtyping import hook, switched on by
# `--jaxtyping-packages` in pyproject.toml, must see equicrl's first import.
import atexit
import os
import shutil
import tempfile

import hypothesis


# One persistent compilation cache for the session, new and empty each time (unless
# one is set already), inherited by the processes the tests start: the same program,
# built again by another test or process (a `train` of the same config), compiles
# once. Set before JAX is imported, which reads it then.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="equicrl-tests-jax-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")


hypothesis.settings.register_profile(
    "ci",
    max_examples=8,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "dev",
    max_examples=8,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "thorough",
    max_examples=100,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)
