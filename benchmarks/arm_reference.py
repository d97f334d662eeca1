"""Our arm model in CPU MuJoCo against docs/arm_tasks.md section 13's references.

The references were computed with MuJoCo 3.2.6 (the paper's version) on the release's
push_easy model as Brax loads it. Running them on *our* model, written from
primitives, in that same MuJoCo version tells whether the model is the same; running
them in today's MuJoCo shows what the engine's version changes. The script needs only
`mujoco` and `numpy`, so it runs in a bare environment with an old MuJoCo:

    python benchmarks/arm_reference.py --write-xml /tmp/arm.xml       # needs equicrl
    python -m venv /tmp/mj326 && /tmp/mj326/bin/pip install mujoco==3.2.6 numpy
    /tmp/mj326/bin/python benchmarks/arm_reference.py --xml /tmp/arm.xml

Prints, for each reference row, our arm joints and link7 origin after 40 env steps
(25 substeps of 2 ms each) of a held action, the reference, and the largest
difference; `--out` writes the same as JSON.
"""

import argparse
import json
import sys
from pathlib import Path

import mujoco
import numpy as np


# docs/arm_tasks.md section 5b: an action's arm dimensions map linearly onto these
# absolute targets (a = -1 -> low, +1 -> high); joints 3, 5, 7 are fixed; a4 > 0
# closes the gripper.
LOW = (0.3491, 0.0, 0.0, -3.0718, 0.0, 2.3562, 1.4487)
HIGH = (2.7925, 1.48353, 0.0, -0.0698, 0.0, 3.7525, 1.4487)
SLOT = (0, 1, None, 2, None, 3, None)
RESET = (1.571, 0.742, 0.0, -1.571, 0.0, 3.054, 1.449)

# docs/arm_tasks.md section 13: action -> (arm q after 2 s, link7 origin); None where
# not given.
REFERENCE = [
    (
        (0, 0, 0, 0, -1),
        (1.5708, 0.7517, -0.0002, -0.9030, -0.0003, 1.5264, 0.7243),
        (0.0001, 0.7529, 0.5463),
    ),
    (
        (1, 0, 0, 0, -1),
        (2.7925, 0.7517, -0.0002, -0.9030, -0.0003, 1.5264, 0.7243),
        (-0.7075, 0.2576, 0.5463),
    ),
    (
        (-1, 0, 0, 0, -1),
        (0.3491, 0.7517, -0.0002, -0.9030, -0.0003, 1.5264, 0.7243),
        (0.7075, 0.2575, 0.5463),
    ),
    (
        (0, 1, 0, 0, -1),
        (1.5704, 1.2071, -0.0035, -0.8832, -0.0052, 1.4261, 0.7275),
        (0.0018, 0.7683, 0.1950),
    ),
    (
        (0, 1, 1, 0, -1),
        (1.5708, 1.4945, -0.0003, -0.0615, -0.0003, 1.5263, 0.7243),
        (0.0000, 0.7921, 0.3604),
    ),
    (
        (0, 1, 1, 1, -1),
        (None, None, None, None, None, 1.8753, None),
        (0.0000, 0.7877, 0.3906),
    ),
    (
        (0, -1, -1, -1, -1),
        (1.5708, 0.0057, 0, -1.7606, -0.0003, 1.1776, 0.7243),
        (0.0000, 0.5502, 0.6060),
    ),
]


def controls(action) -> np.ndarray:
    arm = [
        LOW[j] if s is None else LOW[j] + (action[s] + 1) / 2 * (HIGH[j] - LOW[j])
        for j, s in enumerate(SLOT)
    ]
    fingers = 0.0 if action[4] > 0 else 255.0
    return np.array(arm + [fingers, fingers])


def start(model) -> mujoco.MjData:
    """Section 13's start: the reset pose, gripper half open, the cube 4 cm above its
    nominal spot, kinematics computed."""
    data = mujoco.MjData(model)
    data.qpos[:] = np.r_[-0.1, 0.6, 0.07, 1, 0, 0, 0, 0.1, 0.6, 0.03, 1, 0, 0, 0,
                         RESET, 0.04, 0.04]  # fmt: skip
    mujoco.mj_forward(model, data)
    return data


def held(model, action, steps: int = 40):
    """Arm joints and link7's origin after `steps` env steps of `action` from
    `start`."""
    data = start(model)
    data.ctrl[:] = controls(action)
    for _ in range(steps * 25):
        mujoco.mj_step(model, data)
    return data.qpos[14:21].copy(), data.xpos[model.body("link7").id].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xml", type=Path, help="the model to run (push easy)")
    parser.add_argument("--write-xml", type=Path, help="write our push-easy MJCF")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.write_xml:
        from equicrl.envs import arm_mjcf, TASKS

        args.write_xml.write_text(arm_mjcf(TASKS["arm_push_easy"]))
        print(f"wrote {args.write_xml}")
        return
    if args.xml is None:
        parser.error("give --xml (or --write-xml)")
    model = mujoco.MjModel.from_xml_path(str(args.xml))
    rows = []
    print(f"MuJoCo {mujoco.__version__}; model {args.xml}")
    for action, arm_ref, link7_ref in REFERENCE:
        arm, link7 = held(model, action)
        pairs = [(a, r) for a, r in zip(arm, arm_ref) if r is not None]
        pairs += list(zip(link7, link7_ref))
        diff = max(abs(a - r) for a, r in pairs)
        rows.append(
            dict(
                action=action,
                arm=arm.tolist(),
                link7=link7.tolist(),
                arm_reference=arm_ref,
                link7_reference=link7_ref,
                max_abs_diff=diff,
            )
        )
        print(
            f"{action}: arm {np.round(arm, 4)} link7 {np.round(link7, 4)} "
            f"max |ours - reference| {diff:.1e}"
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                dict(
                    command=" ".join(
                        ["python", "benchmarks/arm_reference.py", *sys.argv[1:]]
                    ),
                    mujoco=mujoco.__version__,
                    rows=rows,
                ),
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
