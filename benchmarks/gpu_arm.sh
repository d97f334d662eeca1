#!/usr/bin/env bash
# The arm tasks on a lent GPU (see the device tool's README): a depth-4 arm_push_easy
# run for as long as `TRAIN_S` allows, a random policy's time at goal, and env
# throughput of ours against the MJX floor. Brax and MuJoCo travel as wheels in .whl/.
# Everything lands in $OUT; plot the curve here afterwards with
#   python benchmarks/arm_learning.py plot OUT/run --random OUT/random.json
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import jax, mujoco, brax; print(jax.__version__, jax.devices(), mujoco.__version__, brax.__version__)" || exit 1
timeout "${TRAIN_S:-330}" python3 examples/arm.py --preset push-easy --eval-every 5 \
    --run-dir "$OUT/run" --light-checkpoints --checkpoint-every 20 2>&1 \
    | grep -v "Failed to import" | tee "$OUT/train.log" | tail -n 40
timeout 100 python3 benchmarks/arm_learning.py random --env arm_push_easy \
    --out "$OUT/random.json"
timeout 120 python3 benchmarks/env_throughput.py --envs arm_push_easy \
    mjx:arm_push_easy --num-envs 2048 --budget 5 --timeout 100 \
    --out "$OUT/env_throughput_arm_gpu.json"
ls -la "$OUT" "$OUT/run"
