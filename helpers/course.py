"""The course map: each notebook, the question it answers, and how long it takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

# (file stem, question, minutes). Times are for a student working through the exercises.
COURSE = [
    ("00_setup_and_data_tour",
     "Is my computer ready, and what real CT data will we use?", 35),
    ("01_ct_fundamentals",
     "What exactly is a CT image, and how do I read one correctly?", 90),
    ("02_contrast_and_virtual_patients",
     "Why are tumours easy to see on contrast CT and nearly invisible on plain CT, and how "
     "can we make paired data with a known answer?", 100),
    ("03_registration_label_transfer",
     "How do we move a lesion mask from the contrast scan to the plain scan, and how do we "
     "know it landed in the right place?", 90),
    ("04_stage1_pancreas_segmentation",
     "Stage 1: how do we find a small, low-contrast organ automatically, and how good is "
     "'good'?", 95),
    ("05_stage2_lesion_detection",
     "Stage 2: can a model segment a lesion and tell normal from abnormal on plain CT?", 85),
    ("06_stage3_subtype_classification",
     "Stage 3: which kind of lesion is it?", 70),
    ("07_end_to_end_and_limits",
     "What does the whole pipeline do with a patient it has never seen, and what does it not "
     "tell us?", 110),
    ("08_unet_stage2",
     "Going further: can a small neural network, trained on a laptop CPU, learn stage 2 from the "
     "same registered labels, and does it beat the boosted features?", 90),
]


def course_table() -> list[dict[str, str]]:
    """Rows for the course map, marking notebooks that are not written yet."""
    rows = []
    for stem, question, minutes in COURSE:
        present = (NOTEBOOK_DIR / f"{stem}.ipynb").exists()
        rows.append({"notebook": stem, "question": question, "minutes": minutes,
                     "status": "ready" if present else "planned"})
    return rows


# The rubric behind every stated time (a test applies it to each notebook): reading at about
# 150 words a minute, about a minute per code cell (read it, run it, look at the output), the
# time each exercise states in its heading ("### Exercise 2: ... (about 10 min)"), and two
# minutes per concept question ("### Quick check").
WORDS_PER_MINUTE = 150
MINUTES_PER_CODE_CELL = 1
MINUTES_PER_QUICK_CHECK = 2
EXERCISE = re.compile(r"^#{2,4}\s*Exercise\s+\d+\b.*$", re.MULTILINE)
EXERCISE_TIME = re.compile(r"\(about (\d+) min\)\s*$")


def time_parts(notebook: Path) -> dict[str, float]:
    """What a notebook asks of a student, counted: the words of its prose (folded worked
    solutions excluded: they are read only when stuck), its code cells, the minutes its
    exercises state, and its concept questions. Raises ValueError for an exercise heading
    with no stated time."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    words = code = quick = exercise_minutes = 0
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            code += 1
            continue
        words += len(re.sub(r"<details>.*?</details>", " ", source, flags=re.DOTALL).split())
        quick += bool(re.match(r"\s*#+\s*Quick check", source))
        for heading in EXERCISE.findall(source):
            stated = EXERCISE_TIME.search(heading)
            if not stated:
                raise ValueError(f"{Path(notebook).name}: exercise heading {heading!r} states no "
                                 "time; end it with '(about N min)'")
            exercise_minutes += int(stated.group(1))
    return {"words": words, "code_cells": code, "exercise_minutes": exercise_minutes,
            "quick_checks": quick}


def rubric_minutes(notebook: Path) -> int:
    """A notebook's time by the rubric above, rounded to 5 minutes."""
    parts = time_parts(notebook)
    minutes = (parts["words"] / WORDS_PER_MINUTE + parts["code_cells"] * MINUTES_PER_CODE_CELL
               + parts["exercise_minutes"] + parts["quick_checks"] * MINUTES_PER_QUICK_CHECK)
    return int(5 * round(minutes / 5))
