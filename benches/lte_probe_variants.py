"""How the choice of probes moves LTE's single-edit numbers (BENCHMARKS.md §21): the untrained
embedded model, gold fact with the `[Query]` label, chat template, the first N ZsRE edits;
locality over all of an edit's probes (EasyEdit, alignkit's default) vs its first probe only, and
portability per kind vs the per-edit mean over kinds (alignkit's default).

    python benches/lte_probe_variants.py --knowedit ../shared/data/knowedit --edits 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from alignkit.llm import default_model_dir
from alignkit.lte import LTEEditor, load_knowedit
from alignkit.lte.template import edit_prompt, fact_sentence, plain_prompt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowedit", required=True, help="folder holding ZsRE/ZsRE-test-all.json")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--wrap", default="chat", choices=("chat", "raw"))
    args = parser.parse_args()
    source = Path(args.knowedit) / "ZsRE" / "ZsRE-test-all.json"
    if not source.is_file():
        print(f"not found: {source}", file=sys.stderr)
        return 1
    scorer = LTEEditor(str(default_model_dir()), fluency=False, wrap=args.wrap).scorer
    records = load_knowedit(source).records[: args.edits]
    plain, edited, targets, loc_owner = [], [], [], []
    asked, answers, port_owner = [], [], []
    for i, record in enumerate(records):
        fact = fact_sentence(record.prompt, record.target_new)
        for probes in record.locality.values():
            for j, (prompt, answer) in enumerate(probes):
                plain.append(plain_prompt(prompt))
                edited.append(edit_prompt(prompt, fact, "Query"))
                targets.append(answer)
                loc_owner.append((i, j))
        for kind, probes in record.portability.items():
            for prompt, answer in probes:
                asked.append(edit_prompt(prompt, fact, "Query"))
                answers.append(answer)
                port_owner.append((i, kind))
    agreement = scorer.locality_agreement(plain, edited, targets)
    accuracy = scorer.token_accuracy(asked, answers)
    every: dict[int, list[float]] = {}
    first: dict[int, float] = {}
    for (i, j), value in zip(loc_owner, agreement, strict=True):
        every.setdefault(i, []).append(value)
        if j == 0:
            first[i] = value
    by_kind: dict[str, list[float]] = {}
    per_edit: dict[int, dict[str, list[float]]] = {}
    for (i, kind), value in zip(port_owner, accuracy, strict=True):
        by_kind.setdefault(kind, []).append(value)
        per_edit.setdefault(i, {}).setdefault(kind, []).append(value)
    pct = lambda values: 100 * statistics.mean(values)  # noqa: E731
    per_edit_locality = [statistics.mean(v) for v in every.values()]
    print(f"locality, all probes per edit (default): {pct(per_edit_locality):.1f}")
    print(f"locality, first probe per edit: {pct(list(first.values())):.1f}")
    for kind, values in sorted(by_kind.items()):
        print(f"portability, {kind} only ({len(values)} probes): {pct(values):.1f}")
    means = [
        statistics.mean(statistics.mean(v) for v in kinds.values()) for kinds in per_edit.values()
    ]
    print(f"portability, per-edit mean over kinds (default): {pct(means):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
