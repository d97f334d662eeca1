"""The pre-registered confirmatory test of depth's stitching gain (the experiments
guide, "A confirmatory test of depth's stitching gain"): its analysis, written down
with the test before any of its runs.

    python benchmarks/sweep.py --preset stitching --grid depth=4,32 --seeds 10 \\
        --set seed=1000 --name stitching-confirm          # the runs (about 3 h)
    python benchmarks/stitching_confirm.py                # this analysis

Reads `results/sweep_stitching-confirm.json`: for depth 32 and depth 4, each seed's
success at distance 4 from its final checkpoint (256 episodes per seed). The one
statistic: a one-sided Welch t-test of "depth 32's mean is higher" at alpha 0.05, with
the difference of means and its 95 % (two-sided) Welch interval. Prints the outcome
in the words decided before the runs and writes `results/stitching_confirm.json`.
"""

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS  # noqa: E402


ALPHA = 0.05
DISTANCE = "4"
DEEP, SHALLOW = 32, 4
SEEDS = list(range(1000, 1010))


def successes(sweep: dict, depth: int) -> list[float]:
    """Each seed's success at `DISTANCE` for the point of `depth`."""
    (point,) = [p for p in sweep["points"] if p["fields"]["actor_depth"] == depth]
    return [s["success"] for s in point["distances"][DISTANCE]["seeds"]]


def analyse(deep: list[float], shallow: list[float]) -> dict:
    from scipy import stats

    test = stats.ttest_ind(deep, shallow, equal_var=False, alternative="greater")
    interval = stats.ttest_ind(deep, shallow, equal_var=False).confidence_interval(0.95)
    difference = sum(deep) / len(deep) - sum(shallow) / len(shallow)
    if test.pvalue < ALPHA:
        outcome = (
            f"confirmed: depth {DEEP} reaches distance {DISTANCE} more often than "
            f"depth {SHALLOW}"
        )
    elif interval.high < 0:
        outcome = (
            f"not confirmed, and reversed: depth {DEEP} reaches distance {DISTANCE} "
            f"less often than depth {SHALLOW}"
        )
    else:
        outcome = (
            f"not confirmed: no evidence that depth {DEEP} reaches distance "
            f"{DISTANCE} more often than depth {SHALLOW}"
        )
    return dict(
        deep=deep,
        shallow=shallow,
        difference=difference,
        interval=[float(interval.low), float(interval.high)],
        t=float(test.statistic),
        df=float(test.df),
        p_one_sided=float(test.pvalue),
        alpha=ALPHA,
        outcome=outcome,
    )


def main() -> dict:
    sweep = json.loads((RESULTS / "sweep_stitching-confirm.json").read_text())
    seeds = sweep["config"]["seed"], sweep["config"]["num_seeds"]
    if seeds != (SEEDS[0], len(SEEDS)):
        sys.exit(f"the sweep's seeds are {seeds}, not the pre-registered {SEEDS}")
    result = analyse(successes(sweep, DEEP), successes(sweep, SHALLOW))
    result["command"] = "python benchmarks/stitching_confirm.py"
    (RESULTS / "stitching_confirm.json").write_text(json.dumps(result, indent=1))
    print(
        f"depth {DEEP} - depth {SHALLOW} at distance {DISTANCE}: "
        f"{result['difference']:+.3f} (95 % {result['interval'][0]:+.3f} to "
        f"{result['interval'][1]:+.3f}); one-sided Welch t = {result['t']:.2f}, "
        f"df {result['df']:.1f}, p = {result['p_one_sided']:.4f}\n{result['outcome']}"
    )
    return result


if __name__ == "__main__":
    main()
