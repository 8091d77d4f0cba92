"""A real corpus no one here wrote: Unicode code points and their character names.

`python -m training build-unicode-corpus --out DIR` writes DIR/train.jsonl, valid.jsonl and
test.jsonl of pairs `{"source": "U+00E9", "target": "LATIN SMALL LETTER E WITH ACUTE",
"category": BLOCK_KIND}` from Python's `unicodedata` (the names of the Unicode version that
Python ships): a seeded sample of assigned code points drawn evenly from several kinds of
block, split by a hash of the code point. `python -m training unicode-baseline --data DIR`
scores the nearest-neighbour baseline on the test split: the name of the closest train code
point (exact match, chrF, BLEU), the figure a model trained on the pairs has to beat.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import unicodedata
import zlib
from pathlib import Path

from assistant.core.atomic_files import atomic_write_text

# kind -> code point ranges (inclusive); each kind gets an equal share of the sample.
BLOCK_KINDS = {
    "latin": ((0x0020, 0x024F), (0x1E00, 0x1EFF)),
    "greek_cyrillic": ((0x0370, 0x052F),),
    "arabic_indic": ((0x0600, 0x06FF), (0x0900, 0x0DFF)),
    "cjk": ((0x4E00, 0x9FFF),),
    "hangul": ((0xAC00, 0xD7A3),),
    "symbols": ((0x2000, 0x2BFF),),
    "math_alphanumeric": ((0x1D400, 0x1D7FF),),
    "emoji": ((0x1F300, 0x1FAFF),),
}
SPLITS = {"test": 5, "valid": 5}  # percent of code points, by hash; the rest is train


def code_points(kind: str) -> list[int]:
    """The assigned, named code points of a block kind, in order."""
    return [cp for low, high in BLOCK_KINDS[kind] for cp in range(low, high + 1)
            if unicodedata.name(chr(cp), "")]


def split_of(code_point: int) -> str:
    """"train", "valid" or "test", by a fixed hash of the code point."""
    slot = zlib.crc32(f"U+{code_point:04X}".encode()) % 100
    return "test" if slot < SPLITS["test"] else "valid" if slot < sum(SPLITS.values()) else "train"


def build(out_dir: Path, size: int = 20_000, seed: int = 0) -> dict[str, int]:
    """Writes the three splits; returns the pairs per split."""
    rng = random.Random(seed)
    share = size // len(BLOCK_KINDS)
    rows: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for kind in BLOCK_KINDS:
        points = code_points(kind)
        for cp in sorted(rng.sample(points, min(share, len(points)))):
            pair = {"source": f"U+{cp:04X}", "target": unicodedata.name(chr(cp)),
                    "category": kind}
            rows[split_of(cp)].append(json.dumps(pair, ensure_ascii=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, lines in rows.items():
        rng.shuffle(lines)
        atomic_write_text(out_dir / f"{split}.jsonl", "".join(f"{line}\n" for line in lines))
    return {split: len(lines) for split, lines in rows.items()}


def nearest_neighbour(data_dir: Path) -> dict[str, float]:
    """Exact match, chrF and BLEU of answering each test code point with the name of the
    numerically closest train code point."""
    import sacrebleu

    train = _read(data_dir / "train.jsonl")
    test = _read(data_dir / "test.jsonl")
    points = sorted((int(p["source"][2:], 16), p["target"]) for p in train)
    keys = [cp for cp, _ in points]
    replies = []
    for pair in test:
        cp = int(pair["source"][2:], 16)
        i = bisect.bisect_left(keys, cp)
        near = min((j for j in (i - 1, i) if 0 <= j < len(keys)), key=lambda j: abs(keys[j] - cp))
        replies.append(points[near][1])
    references = [p["target"] for p in test]
    return {
        "pairs": len(test),
        "exact": sum(r == t for r, t in zip(replies, references, strict=True)) / len(test),
        "chrf": sacrebleu.corpus_chrf(replies, [references]).score,
        "bleu": sacrebleu.corpus_bleu(replies, [references]).score,
    }


def register(subparsers) -> None:
    """Adds `build-unicode-corpus` and `unicode-baseline` to `python -m training`."""
    build_parser = subparsers.add_parser(
        "build-unicode-corpus", help="write code point -> character name pairs (unicodedata)")
    build_parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    build_parser.add_argument("--size", type=int, default=20_000, help="pairs in all")
    build_parser.add_argument("--seed", type=int, default=0)
    build_parser.set_defaults(handler=_build_command, needs_tensorflow=False)
    baseline = subparsers.add_parser(
        "unicode-baseline", help="nearest-neighbour scores on the unicode corpus' test split")
    baseline.add_argument("--data", required=True, type=Path, metavar="DIR")
    baseline.set_defaults(handler=_baseline_command, needs_tensorflow=False)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _build_command(args: argparse.Namespace) -> int:
    counts = build(args.out, args.size, args.seed)
    print(f"wrote {', '.join(f'{split} {n:,}' for split, n in counts.items())} pairs "
          f"to {args.out} (unicodedata {unicodedata.unidata_version})")
    return 0


def _baseline_command(args: argparse.Namespace) -> int:
    scores = nearest_neighbour(args.data)
    print(f"nearest neighbour on {scores['pairs']:,} test pairs: exact {scores['exact']:.2%}, "
          f"chrF {scores['chrf']:.1f}, BLEU {scores['bleu']:.1f}")
    return 0
