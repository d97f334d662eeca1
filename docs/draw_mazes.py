"""Draw a top-down picture of every maze layout into docs/mazes/.

    python docs/draw_mazes.py

Walls are dark, start cells green, goal cells orange, other free cells white. Axes are
in cells: cell (row i, column j) is centred at x = i * cell_size, y = j * cell_size, so
the picture is drawn with x pointing down the rows and y along the columns.
"""

from pathlib import Path

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from equicrl import draw_maze  # noqa: E402
from equicrl.envs import LAYOUTS  # noqa: E402


OUT = Path(__file__).parent / "mazes"
COLOURS = {"#": "#2f3542", ".": "#ffffff", "S": "#2ecc71", "G": "#f39c12"}


def legend(fig) -> None:
    handles = [
        Patch(facecolor=COLOURS["#"], label="wall"),
        Patch(facecolor=COLOURS["S"], label="start"),
        Patch(facecolor=COLOURS["G"], label="goal"),
        Patch(facecolor=COLOURS["."], edgecolor="#999999", label="free (never a goal)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for layout in LAYOUTS.values():
        rows, cols = layout.shape
        fig, ax = plt.subplots(figsize=(0.45 * cols + 1.2, 0.45 * rows + 1.4))
        draw_maze(ax, layout)
        legend(fig)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        fig.savefig(OUT / f"{layout.name}.png", dpi=100)
        plt.close(fig)

    # One overview of all layouts, for the README.
    fig, axes = plt.subplots(2, 5, figsize=(17, 7.5))
    for ax, layout in zip(axes.flat, LAYOUTS.values()):
        draw_maze(ax, layout)
    legend(fig)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(OUT / "all_mazes.png", dpi=80)
    plt.close(fig)
    print(f"wrote {len(LAYOUTS) + 1} pictures to {OUT}")


if __name__ == "__main__":
    main()
