"""MkDocs hooks of equicrl's docs.

- `<!-- table: NAME -->` in a page becomes the benchmark table NAME, made from its
  committed JSON by `benchmarks/tables.py` (an unknown name fails the build).
- The benchmarks' committed figures (`benchmarks/results/*.png`) are served at
  `benchmarks/results/`, so pages show them without a copy in `docs/`.
"""

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File


ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import tables  # noqa: E402


MARKER = re.compile(r"^<!-- table: ([a-z0-9-]+) -->$", flags=re.M)


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(lambda m: tables.render(m.group(1)), markdown)


def on_files(files, config):
    for png in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        files.append(
            File(
                f"benchmarks/results/{png.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files
