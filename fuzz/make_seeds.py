#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the repository's fixtures (run from the repository root, after
`cargo build --bin webclip`): `python3 fuzz/make_seeds.py`. Needs numpy, safetensors and Pillow.

- checkpoint: tests/fixtures/tiny-a and tiny-b with the token embedding cut to 64 rows (the 49408-row table is
  95 % of their bytes) and a 64-token tokenizer.json cut from CLIP's, as fuzz_targets/checkpoint.rs reads them:
  config.json, preprocessor_config.json, tokenizer.json, shards, joined by webclip_fuzz::PART. tiny-a's weights
  are stored as bf16 (f32: 190 KB), tiny-b's as they are (f16), once as one file and once as two shards; plus
  config files alone: tiny-b's, and the old forms (`*_config_dict`, `"size": 40`). ~380 KB in all.
- bundle: `webclip convert` of tests/fixtures/tiny-a (vision-only: the text tower brings the 0.5 MB tokenizer) and
  of the cut-down tiny-b (both towers in q8, text-only in f16).
- image: the fixtures of tests/fixtures/images (every format and metadata case decode.rs handles, not their
  .pil.png references) and small PNG/GIF/WebP/JPEG variants of progressive_420_rst.pil.png (a crop of
  scikit-image's "chelsea", CC0) in the modes decode.rs converts.
- tokenizer: every text of tests/fixtures/tokenizer_cases.json.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
FIX = ROOT / "tests" / "fixtures"
PART = b"\n--webclip-fuzz-part--\n"  # webclip_fuzz::PART
WEBCLIP = os.environ.get("WEBCLIP_BIN", str(ROOT / "target" / "debug" / "webclip"))
VOCAB = 64


def micro_tokenizer():
    """CLIP's tokenizer.json with 62 tokens (letters, letters + </w>, two merges, punctuation) + bos/eos."""
    t = json.loads((ROOT / "src" / "assets" / "tokenizer.json").read_text())
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = letters + [c + "</w>" for c in letters] + ["th", "the</w>"] + [p + "</w>" for p in ".,!?'-:;"]
    assert len(tokens) == VOCAB - 2
    vocab = {tok: i for i, tok in enumerate(tokens)}
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = VOCAB - 2, VOCAB - 1
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = ["t h", "th e</w>"]
    for a in t["added_tokens"]:
        a["id"] = vocab[a["content"]]
    t["post_processor"]["cls"] = ["<|startoftext|>", VOCAB - 2]
    t["post_processor"]["sep"] = ["<|endoftext|>", VOCAB - 1]
    return json.dumps(t, separators=(",", ":")).encode()


def micro(name):
    """(config.json, preprocessor_config.json, tensors) of fixture `name` with a 64-token vocabulary."""
    config = json.loads((FIX / name / "config.json").read_text())
    config["text_config"].update(vocab_size=VOCAB, bos_token_id=VOCAB - 2, eos_token_id=VOCAB - 1)
    tensors = load_file(str(FIX / name / "model.safetensors"))
    key = "text_model.embeddings.token_embedding.weight"
    tensors[key] = np.ascontiguousarray(tensors[key][:VOCAB])
    pre = (FIX / name / "preprocessor_config.json").read_bytes()
    return json.dumps(config, indent=2).encode(), pre, tensors


def safetensors_bytes(tensors, bf16=False):
    if not bf16:
        return save(tensors, metadata={"format": "pt"})
    # BF16 by hand: header with dtype BF16, data = the high 16 bits of each f32 (round to nearest even)
    header, data, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for k in sorted(tensors):
        u = tensors[k].astype(np.float32).view(np.uint32).astype(np.uint64)
        b = (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF).astype("<u2").tobytes()
        header[k] = {"dtype": "BF16", "shape": list(tensors[k].shape), "data_offsets": [offset, offset + len(b)]}
        data.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + b"".join(data)


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def checkpoints(tok):
    dirs = {}
    config_a, pre_a, t_a = micro("tiny-a")
    st_a = safetensors_bytes(t_a, bf16=True)
    write("checkpoint", "micro-a-bf16", PART.join([config_a, pre_a, tok, st_a]))
    config_b, pre_b, t_b = micro("tiny-b")
    st_b = safetensors_bytes(t_b)
    write("checkpoint", "micro-b-f16", PART.join([config_b, pre_b, tok, st_b]))
    names = sorted(t_b)
    half = len(names) // 2
    shards = [safetensors_bytes({k: t_b[k] for k in names[:half]}), safetensors_bytes({k: t_b[k] for k in names[half:]})]
    write("checkpoint", "micro-b-2-shards-no-tokenizer", PART.join([config_b, pre_b, b""] + shards))
    # transformers 4.2x / 4.1x forms: only non-default fields, *_config_dict keys, int sizes; no preprocessor file
    c = json.loads(config_b)
    old = {"model_type": "clip", "projection_dim": c["projection_dim"],
           "text_config_dict": {k: c["text_config"][k] for k in ("vocab_size", "hidden_size", "intermediate_size",
                                                                "num_attention_heads", "num_hidden_layers")},
           "vision_config_dict": {k: c["vision_config"][k] for k in ("hidden_size", "intermediate_size",
                                                                    "num_attention_heads", "num_hidden_layers",
                                                                    "image_size", "patch_size")}}
    old_pre = json.dumps({"size": 40, "crop_size": 40, "do_center_crop": True, "resample": 3,
                          "image_mean": [0.5, 0.5, 0.5], "image_std": 0.5}).encode()
    # (config files only: the weights are in the seeds above)
    write("checkpoint", "micro-b-old-config-no-weights", PART.join([json.dumps(old).encode(), old_pre, b""]))
    write("checkpoint", "micro-b-config-only", config_b)
    # folders for `webclip convert`
    tmp = Path(tempfile.mkdtemp())
    for name, config, pre, st in (("micro-a", config_a, pre_a, st_a), ("micro-b", config_b, pre_b, st_b)):
        d = tmp / name
        d.mkdir()
        (d / "config.json").write_bytes(config)
        (d / "preprocessor_config.json").write_bytes(pre)
        (d / "tokenizer.json").write_bytes(tok)
        (d / "model.safetensors").write_bytes(st)
        dirs[name] = d
    dirs["tiny-a"] = FIX / "tiny-a"
    return tmp, dirs


def bundles(tmp, dirs):
    for model, quant, towers in (
        ("tiny-a", "q4", "--vision-only"),  # q4 with a q8 patch conv
        ("micro-b", "q8", None),
        ("micro-b", "f16", "--text-only"),
    ):
        suffix = {"--vision-only": "vision", "--text-only": "text", None: "both"}[towers]
        out = tmp / f"{model}.{quant}.{suffix}.webclip"
        cmd = [WEBCLIP, "convert", "--model", str(dirs[model]), "--quant", quant, "--out", str(out)]
        subprocess.run(cmd + ([towers] if towers else []), check=True, stdout=subprocess.DEVNULL)
        write("bundle", out.name, out.read_bytes())


def images():
    for p in sorted((FIX / "images").iterdir()):
        if p.suffix in {".jpg", ".png", ".webp", ".gif", ".bmp", ".tif"} and not p.name.endswith(".pil.png"):
            write("image", p.name, p.read_bytes())
    photo = Image.open(FIX / "images" / "progressive_420_rst.pil.png").convert("RGB")
    small = photo.resize((24, 16), Image.BICUBIC)

    def save_as(name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        write("image", name, buf.getvalue())

    alpha = Image.linear_gradient("L").resize(small.size)
    rgba = small.copy()
    rgba.putalpha(alpha)
    save_as("rgb.png", small, "PNG")
    save_as("rgba.png", rgba, "PNG")
    save_as("la.png", small.convert("L").convert("LA"), "PNG")
    pal = small.convert("P", palette=Image.ADAPTIVE, colors=16)
    save_as("palette-trns.png", pal, "PNG", transparency=0)
    gray16 = Image.fromarray((np.asarray(small.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    save_as("gray16.png", gray16, "PNG")
    frames = [pal, small.rotate(90, expand=False).convert("P", palette=Image.ADAPTIVE, colors=8)]
    save_as("two-frames.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], transparency=1)
    save_as("lossy.webp", small, "WEBP", quality=50)
    save_as("lossless-alpha.webp", rgba, "WEBP", lossless=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW
    save_as("exif-rotated.jpg", small, "JPEG", quality=60, exif=exif.tobytes())
    save_as("progressive-444.jpg", small, "JPEG", quality=70, progressive=True, subsampling=0)


def tokenizer_texts():
    for i, case in enumerate(json.loads((FIX / "tokenizer_cases.json").read_text())):
        write("tokenizer", f"case-{i:02}.txt", case["text"].encode())


def main():
    if not Path(WEBCLIP).exists():
        sys.exit(f"{WEBCLIP} is missing: `cargo build --bin webclip` first (or set WEBCLIP_BIN)")
    shutil.rmtree(SEEDS, ignore_errors=True)
    tok = micro_tokenizer()
    tmp, dirs = checkpoints(tok)
    bundles(tmp, dirs)
    shutil.rmtree(tmp)
    images()
    tokenizer_texts()
    for d in sorted(SEEDS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e3:.0f} KB")


if __name__ == "__main__":
    main()
