"""Export a Hugging Face CLIPModel folder to the ONNX layout transformers.js loads from a local model path.

    python3 -m venv /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install torch transformers onnx onnxruntime onnxscript pillow
    /tmp/onnx-venv/bin/python bench/export_onnx.py --hf /tmp/vb32 --out bench/models/vb32

Measured with (the README's table): Python 3.11.7, torch 2.15.0 (PyPI wheel, run on the CPU), transformers 5.24.0,
onnx 1.23.2, onnxruntime 1.32.0. The model in the README is `webclip synth --preset vit-b-32 --seed 0` (a
ViT-B/32-shaped CLIPModel with seeded random weights); the export itself has no randomness (torch.manual_seed(0)
is set all the same, and the dummy inputs are fixed).

What it writes under --out (bench/models/ is git-ignored; nothing here is committed):

    config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json, preprocessor_config.json
        copied from --hf
    onnx/vision_model.onnx            pixel_values [b,3,224,224] -> image_embeds [b,512]   (fp32)
    onnx/text_model.onnx              input_ids, attention_mask [b,t] -> text_embeds [b,512] (fp32)
    onnx/vision_model_quantized.onnx  the same, dynamic int8 (onnxruntime.quantization.quantize_dynamic,
    onnx/text_model_quantized.onnx    QUInt8 weights, MatMul/Gemm only, per-tensor) = transformers.js dtype 'q8'
    reference.json                    torch f32 embeddings of --photo and of the prompts (the cosine reference)

transformers.js 4.3.1 names the files so: CLIPVisionModelWithProjection / CLIPTextModelWithProjection default to
model_file_name "vision_model" / "text_model" under onnx/, and dtype 'fp32' adds no suffix, 'q8' "_quantized"
(DEFAULT_DTYPE_SUFFIX_MAPPING in its dist/transformers.js). These are the files Xenova's converted CLIP repositories
ship (their quantize step is the same dynamic QUInt8 quantization).
"""

import argparse
import json
import os
import shutil
import sys

PROMPT_LABELS = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "computer"]
TEMPLATE = "a photo of a {}."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hf", required=True, help="Hugging Face CLIPModel folder (config.json, model.safetensors, ...)")
    ap.add_argument("--out", required=True, help="output folder (e.g. bench/models/vb32)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--photo", default=os.path.join(here, "..", "tests", "assets", "photos", "chelsea.png"))
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()

    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    torch.manual_seed(0)
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json"]:
        src = os.path.join(args.hf, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(args.out, name))

    model = CLIPModel.from_pretrained(args.hf, torch_dtype=torch.float32, attn_implementation="eager").eval()

    class Vision(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            out = self.m.vision_model(pixel_values=pixel_values)
            return self.m.visual_projection(out.pooler_output)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            out = self.m.text_model(input_ids=input_ids, attention_mask=attention_mask)
            return self.m.text_projection(out.pooler_output)

    size = model.config.vision_config.image_size
    pixels = torch.zeros(1, 3, size, size)
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 269, 49407]] * 2, dtype=torch.long)
    mask = torch.ones_like(ids)

    paths = {}
    with torch.no_grad():
        for name, module, inputs, in_names, out_name, axes in [
            ("vision_model", Vision(model), (pixels,), ["pixel_values"], "image_embeds",
             {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}}),
            ("text_model", Text(model), (ids, mask), ["input_ids", "attention_mask"], "text_embeds",
             {"input_ids": {0: "batch_size", 1: "sequence_length"},
              "attention_mask": {0: "batch_size", 1: "sequence_length"}, "text_embeds": {0: "batch_size"}}),
        ]:
            path = os.path.join(args.out, "onnx", name + ".onnx")
            # dynamo=False: the TorchScript exporter, which writes one self-contained file (no external data)
            torch.onnx.export(module, inputs, path, input_names=in_names, output_names=[out_name],
                              dynamic_axes=axes, opset_version=args.opset, do_constant_folding=True, dynamo=False)
            onnx.checker.check_model(path)
            q = os.path.join(args.out, "onnx", name + "_quantized.onnx")
            quantize_dynamic(path, q, weight_type=QuantType.QUInt8, op_types_to_quantize=["MatMul", "Gemm"])
            paths[name] = (path, q)
            print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB fp32, {os.path.getsize(q) / 1e6:.1f} MB q8")

    # the torch reference, and a check that onnxruntime (CPU) reproduces it from the exported files
    processor = CLIPProcessor.from_pretrained(args.hf)
    prompts = [TEMPLATE.format(label) for label in PROMPT_LABELS]
    image = Image.open(args.photo).convert("RGB")
    vin = processor(images=image, return_tensors="pt")
    tin = processor(text=prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        img = model.get_image_features(pixel_values=vin["pixel_values"])
        txt = model.get_text_features(input_ids=tin["input_ids"], attention_mask=tin["attention_mask"])
        img = getattr(img, "pooler_output", img)
        txt = getattr(txt, "pooler_output", txt)
    ref = {
        "source": f"torch {torch.__version__}, transformers {transformers.__version__} CLIPModel f32 on the CPU, "
                  "CLIPProcessor preprocessing",
        "photo": os.path.basename(args.photo),
        "template": TEMPLATE,
        "labels": PROMPT_LABELS,
        "prompts": prompts,
        "logit_scale": float(model.logit_scale.exp()),
        "image": img[0].tolist(),
        "texts": txt.tolist(),
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f)

    def cos(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    for i, kind in enumerate(["fp32", "q8"]):
        vs = ort.InferenceSession(paths["vision_model"][i], providers=["CPUExecutionProvider"])
        ts = ort.InferenceSession(paths["text_model"][i], providers=["CPUExecutionProvider"])
        oi = vs.run(None, {"pixel_values": vin["pixel_values"].numpy()})[0][0]
        ot = ts.run(None, {"input_ids": tin["input_ids"].numpy(), "attention_mask": tin["attention_mask"].numpy()})[0]
        print(f"onnxruntime {ort.__version__} {kind} vs torch: image cos {cos(oi, ref['image']):.6f}, "
              f"text cos min {min(cos(a, b) for a, b in zip(ot, ref['texts'])):.6f}")
    print(f"wrote {args.out} (torch {torch.__version__}, transformers {transformers.__version__}, "
          f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
