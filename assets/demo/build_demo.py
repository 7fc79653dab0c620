#!/usr/bin/env python3
"""Builds assets/demo/demo.jsonl from the public data in ../shared/data (see README.md here).

Run from the repository root: python3 assets/demo/build_demo.py [SHARED_DATA_DIR]
The output is committed; this script documents (and reproduces) how it was made.
"""
import csv, gzip, json, sys, os

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "data")
OUT = os.path.join("assets", "demo", "demo.jsonl")

xs = list(csv.DictReader(open(os.path.join(DATA, "xstest", "xstest_v2_completions_all_long.csv"), encoding="utf-8")))
hh = [json.loads(l) for l in gzip.open(os.path.join(DATA, "hh-rlhf-harmless-base", "test.jsonl.gz"), "rt", encoding="utf-8")]

BEHAVIOUR = {"1_full_compliance": "full_compliance", "2_full_refusal": "full_refusal", "3_partial_refusal": "partial_refusal"}


def xstest(row_index, item_id, **extra):
    r = xs[row_index]
    item = {
        "id": item_id,
        "prompt": r["prompt"],
        "responses": [{"text": r["completion"].strip(), "model": r["model"]}],
        "metadata": {
            "source": "XSTest v2 (Röttger et al., NAACL 2024), CC-BY-4.0 prompts; completion under its model's license",
            "xstest_id": r["id"],
            "type": r["type"],
        },
    }
    item.update(extra)
    return item


def turns(transcript):
    """Splits an HH-RLHF transcript into [{role, content}] turns."""
    out = []
    for chunk in transcript.split("\n\nHuman: ")[1:]:
        human, *assistant = chunk.split("\n\nAssistant: ")
        out.append({"role": "user", "content": human.strip()})
        for a in assistant:
            out.append({"role": "assistant", "content": a.strip()})
    return out


def hh_single(line, item_id):
    conv = turns(hh[line]["chosen"])
    return {
        "id": item_id,
        "messages": conv[:-1],
        "responses": [{"text": conv[-1]["content"]}],
        "metadata": {"source": "Anthropic HH-RLHF harmless-base test split (MIT)", "line": line + 1},
    }


def hh_pair(line, item_id, chosen_first):
    chosen, rejected = turns(hh[line]["chosen"]), turns(hh[line]["rejected"])
    assert chosen[:-1] == rejected[:-1], "the pair must share its conversation"
    a, b = (chosen[-1], rejected[-1]) if chosen_first else (rejected[-1], chosen[-1])
    return {
        "id": item_id,
        "messages": chosen[:-1],
        "responses": [{"text": a["content"]}, {"text": b["content"]}],
        "metadata": {"source": "Anthropic HH-RLHF harmless-base test split (MIT)", "line": line + 1},
    }


def row(pred):
    return next(i for i, r in enumerate(xs) if pred(r))


items = [
    # Safe request, fully and helpfully answered.
    xstest(row(lambda r: r["id"] == "v2-1" and r["model"] == "gpt4"), "safe-python-process"),
    # Safe request refused: over-refusal.
    xstest(row(lambda r: r["id"] == "v2-17" and r["model"] == "llama2orig"), "over-refusal-coke"),
    # Unsafe request (privacy) fully complied with.
    xstest(row(lambda r: r["id"] == "v2-444" and r["model"] == "mistralguard"), "unsafe-privacy"),
    # Graphic request complied with: masked until revealed.
    xstest(row(lambda r: r["id"] == "v2-29" and r["model"] == "mistralinstruct"), "violence-masked",
           content_warning="Violence: instructions for killing a person"),
]
# A model pre-label that the human annotators disagreed with (they said full compliance).
fraud = row(lambda r: r["id"] == "v2-199" and r["model"] == "mistralguard")
items.append(xstest(fraud, "suggested-fraud", suggestions={
    "behaviour": {"value": BEHAVIOUR[xs[fraud]["gpt4_label"]], "score": 0.8, "agent": "gpt-4 classifier (XSTest automated labels)"},
}))
items.append(hh_single(3, "multi-turn-lockpick"))
items.append(hh_pair(1, "pair-alcohol", chosen_first=False))
items.append(hh_pair(2, "pair-pranks", chosen_first=True))

manifest = {"manifest": {
    "format": "verdict-batch/1",
    "batch_id": "verdict-demo-1",
    "schema": "ai-safety-v1",
    "guidelines": {"id": "verdict-safety", "version": "1.0"},
    "description": "Demo batch from public data: XSTest v2 (CC-BY-4.0 prompts) and Anthropic HH-RLHF harmless-base (MIT). See assets/demo/README.md.",
}}
with open(OUT, "w", encoding="utf-8") as f:
    for obj in [manifest] + items:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")
print(f"wrote {OUT}: {len(items)} items")
